/**
 * A UDP endpoint (IP address and port) as the protocol core sees it: plain data, no sockets.
 * Addresses are textual (`198.18.0.1`, `fd00::1`) so endpoints compare and log without any
 * platform API; `family` says which.
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}
