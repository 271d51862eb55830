/**
 * SYN cookies (RFC 4987 §3.6), used only when a listener's half-open table is full, so a SYN
 * flood costs no memory while legitimate clients still connect. The ISN of the stateless
 * SYN-ACK encodes a keyed hash of the 4-tuple, a 64 s time counter and an MSS index (the layout
 * of Linux and gVisor): cookie = H1(tuple) + peerISN + (t ≪ 24) + ((H2(tuple, t) + mssIndex) mod 2^24).
 * When the SYN offers timestamps, the peer's window scale and SACK-permitted ride in the low
 * 6 bits of our SYN-ACK's TSval, which the peer echoes in the ACK's TSecr (as Linux's
 * cookie_init_timestamp does), so such connections keep all three options; without
 * timestamps they run without them.
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

/** TSecr/TSval bits 0–3: the peer's window shift (0xf = none); bit 4: SACK permitted. */
const NO_WSCALE = 0xf;
const SACK_BIT = 0x10;
const OPTION_BITS = 0x3f;

/** The options a cookie connection keeps (decoded from the returned TSecr). */
export interface CookieOptions {
  /** The peer's window shift, or −1 when window scaling is off. */
  wscale: number;
  sack: boolean;
}

/**
 * A per-tuple timestamp clock offset: stateless, so the TSval of the cookie SYN-ACK and every
 * later one of the connection come from the same clock (the peer's PAWS sees no step back).
 */
export function cookieTsOffset(h: TupleHasher, t: CookieTuple): number {
  return h.hash(t.local, t.localPort, t.remote, t.remotePort, 0x100);
}

/** Our SYN-ACK TSval carrying the options: the clock rounded down, the low bits replaced. */
export function cookieTsVal(clock: number, o: CookieOptions): number {
  const bits = (o.wscale >= 0 ? Math.min(o.wscale, 14) : NO_WSCALE) | (o.sack ? SACK_BIT : 0);
  return ((clock & ~OPTION_BITS) | bits) >>> 0;
}

export function cookieOptionsFrom(tsEcr: number): CookieOptions {
  const w = tsEcr & NO_WSCALE;
  return { wscale: w === NO_WSCALE ? -1 : Math.min(w, 14), sack: (tsEcr & SACK_BIT) !== 0 };
}
