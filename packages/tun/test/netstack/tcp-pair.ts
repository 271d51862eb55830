/** Test support: a connected pair of TCP connections over a Link, and event recorders. */
import type { TcpConnection, TcpError } from "../../src/netstack/tcp/types.js";
import { ADDR_A, ADDR_B, type Link } from "./tcp-link.js";

/** Records a connection's events; optionally reads everything as it arrives. */
export class Recorder {
  readonly log: string[] = [];
  readonly chunks: Uint8Array[] = [];
  received = 0;
  error: TcpError | undefined;
  closed = false;
  ended = false;
  connected = false;

  constructor(
    readonly conn: TcpConnection,
    public autoRead = true,
  ) {
    conn.setEvents({
      connected: () => {
        this.connected = true;
        this.log.push("connected");
      },
      readable: () => {
        if (this.autoRead) this.drain();
      },
      writable: () => this.log.push("writable"),
      end: () => {
        this.ended = true;
        this.log.push("end");
      },
      close: (err) => {
        this.closed = true;
        this.error = err;
        this.log.push(err ? `close:${err.code}` : "close");
      },
    });
  }

  drain(max?: number): number {
    let n = 0;
    for (;;) {
      const c = this.conn.read(max);
      if (c === null) break;
      this.chunks.push(c);
      this.received += c.length;
      n += c.length;
      if (max !== undefined) break;
    }
    return n;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.received);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export interface Pair {
  client: Recorder;
  server: Recorder;
}

/** B listens on `port`, A connects; resolves once both sides are established. */
export function openPair(link: Link, port = 80, autoRead = true): Pair {
  let server: Recorder | undefined;
  link.b.listen(null, port, {}, (c) => {
    server = new Recorder(c, autoRead);
  });
  const conn = link.a.connect(
    { address: ADDR_A, port: 0 },
    { address: ADDR_B, port },
    {},
    link.now,
  );
  const client = new Recorder(conn, autoRead);
  if (!link.run(() => client.connected && server !== undefined, 60_000)) {
    throw new Error(`handshake did not complete: client ${conn.state}`);
  }
  return { client, server: server as Recorder };
}

/** Deterministic payload of `n` bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/** Writes all of `data` as the send buffer allows, running the link in between. */
export function writeAll(
  link: Link,
  conn: TcpConnection,
  data: Uint8Array,
  maxMs = 600_000,
): boolean {
  let off = 0;
  const limit = link.now + maxMs;
  while (off < data.length) {
    off += conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
    if (off < data.length && !link.step(limit)) return false;
  }
  return true;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
