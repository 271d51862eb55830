/**
 * A passive-open endpoint (RFC 9293 LISTEN). It counts its half-open connections
 * (SYN_RECEIVED) against the backlog; the layer refuses SYNs beyond it, so a SYN flood costs a
 * bounded amount of memory and established connections are untouched.
 */
import type { ListenerRef } from "./connection.js";
import type { IpAddress, TcpConnection, TcpListener } from "./types.js";

export class Listener implements TcpListener, ListenerRef {
  halfOpen = 0;
  closed = false;

  constructor(
    readonly address: IpAddress | null,
    readonly port: number,
    readonly backlog: number,
    readonly onAccept: (c: TcpConnection) => void,
    private readonly onClose: (l: Listener) => void,
  ) {}

  /** Matches a segment to `dst` (specific address first is the layer's job). */
  matches(dst: IpAddress): boolean {
    const a = this.address;
    if (a === null) return true;
    if (a.length !== dst.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== dst[i]) return false;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}
