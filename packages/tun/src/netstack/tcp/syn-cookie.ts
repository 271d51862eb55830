/**
 * SYN cookies (RFC 4987 §3.6), used only when a listener's half-open table is full, so a SYN
 * flood costs no memory while legitimate clients still connect. The ISN of the stateless
 * SYN-ACK encodes a keyed hash of the 4-tuple, a 64 s time counter and an MSS index (the layout
 * of Linux and gVisor): cookie = H1(tuple) + peerISN + (t ≪ 24) + ((H2(tuple, t) + mssIndex) mod 2^24).
 * Window scaling, SACK and timestamps are not encoded, so such connections run without them.
 */
import type { TupleHasher } from "./isn.js";

/** MSS values a cookie can carry (index 0–3). */
export const COOKIE_MSS = [536, 1300, 1440, 1460] as const;
const PERIOD_MS = 64_000;
/** Cookies from the current and the previous period are accepted. */
const MAX_AGE = 1;

export interface CookieTuple {
  local: Uint8Array;
  localPort: number;
  remote: Uint8Array;
  remotePort: number;
}

function h1(h: TupleHasher, t: CookieTuple): number {
  return h.hash(t.local, t.localPort, t.remote, t.remotePort, 0xffffffff);
}

function h2(h: TupleHasher, t: CookieTuple, count: number): number {
  return h.hash(t.local, t.localPort, t.remote, t.remotePort, count) & 0xffffff;
}

/** The ISN for a SYN-ACK answering `peerIsn` with the peer's announced MSS. */
export function makeCookie(
  h: TupleHasher,
  t: CookieTuple,
  peerIsn: number,
  peerMss: number,
  now: number,
): number {
  let idx = 0;
  for (let i = COOKIE_MSS.length - 1; i > 0; i--) {
    if (COOKIE_MSS[i] <= peerMss) {
      idx = i;
      break;
    }
  }
  const count = Math.floor(now / PERIOD_MS) & 0xff;
  return (h1(h, t) + peerIsn + count * 2 ** 24 + ((h2(h, t, count) + idx) & 0xffffff)) >>> 0;
}

/** Checks the cookie an ACK returns (SEG.ACK − 1); returns the MSS it carries, or 0 if invalid. */
export function checkCookie(
  h: TupleHasher,
  t: CookieTuple,
  peerIsn: number,
  cookie: number,
  now: number,
): number {
  const v = (cookie - h1(h, t) - peerIsn) >>> 0;
  const count = v >>> 24;
  const age = ((Math.floor(now / PERIOD_MS) & 0xff) - count) & 0xff;
  if (age > MAX_AGE) return 0;
  const idx = ((v & 0xffffff) - h2(h, t, count)) & 0xffffff;
  return idx < COOKIE_MSS.length ? COOKIE_MSS[idx] : 0;
}
