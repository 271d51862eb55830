/**
 * A raw client for the unix-socket servers under fuzz (control socket, UAPI): sends chunks one
 * per event-loop turn, then half-closes or hangs up, and returns every byte answered.
 */
import { connect } from "node:net";

export const enc = (s: string) => new TextEncoder().encode(s);

export interface ExchangeOptions {
  /** How the answer bytes are decoded (default utf8). */
  readonly encoding?: BufferEncoding;
  /** Without a half-close: ms left for answers to complete requests before hanging up. */
  readonly hangUpMs?: number;
}

/** Sends `chunks`, then half-closes (`halfClose`) or hangs up; resolves at close with the answers. */
export function exchange(
  path: string,
  chunks: readonly Uint8Array[],
  halfClose: boolean,
  { encoding = "utf8", hangUpMs = 20 }: ExchangeOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    const out: Buffer[] = [];
    c.on("data", (d: Buffer) => {
      out.push(d);
    });
    c.on("error", (e: NodeJS.ErrnoException) => {
      // The server may answer or refuse and close while we are still writing.
      if (e.code === "EPIPE" || e.code === "ECONNRESET") return;
      reject(e);
    });
    c.on("close", () => resolve(Buffer.concat(out).toString(encoding)));
    c.on("connect", async () => {
      for (const chunk of chunks) {
        if (c.destroyed || c.writableEnded) break;
        c.write(chunk);
        await new Promise((r) => setImmediate(r));
      }
      if (c.destroyed) return;
      if (halfClose) c.end();
      else setTimeout(() => c.destroy(), hangUpMs);
    });
  });
}
