/** Test support: hand-built TCP segments and access to a connection's internals. */
import type { Connection } from "../../src/netstack/tcp/connection.js";
import type { TcpConnection } from "../../src/netstack/tcp/types.js";

export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export interface Craft {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: number[];
  payload?: Uint8Array;
}

export function craft(s: Craft): Uint8Array {
  const opts = s.options ?? [];
  const olen = (opts.length + 3) & ~3;
  const hlen = 20 + olen;
  const p = s.payload ?? new Uint8Array(0);
  const b = new Uint8Array(hlen + p.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, s.srcPort);
  dv.setUint16(2, s.dstPort);
  dv.setUint32(4, s.seq >>> 0);
  dv.setUint32(8, (s.ack ?? 0) >>> 0);
  b[12] = (hlen / 4) << 4;
  b[13] = s.flags;
  dv.setUint16(14, s.window ?? 65535);
  b.set(opts, 20);
  b.set(p, hlen);
  return b;
}

/** NOP, NOP, Timestamps (RFC 7323 §3): 12 option bytes. */
export function tsOption(tsVal: number, tsEcr = 0): number[] {
  const be = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return [1, 1, 8, 10, ...be(tsVal >>> 0), ...be(tsEcr >>> 0)];
}

/** The connection's TCB (tests look at sequence numbers). */
export function tcb(c: TcpConnection): Connection {
  return c as Connection;
}

/** Header fields of an emitted segment. */
export function parsed(seg: Uint8Array): {
  flags: number;
  seq: number;
  ack: number;
  window: number;
  len: number;
} {
  const dv = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  const hlen = (seg[12] >> 4) * 4;
  return {
    flags: seg[13],
    seq: dv.getUint32(4),
    ack: dv.getUint32(8),
    window: dv.getUint16(14),
    len: seg.length - hlen,
  };
}
