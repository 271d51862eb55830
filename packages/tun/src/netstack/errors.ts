/** A user-facing netstack error with a Node-style errno `code` (e.g. EADDRINUSE, ECONNREFUSED). */
export class NetstackError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "NetstackError";
    this.code = code;
  }
}
