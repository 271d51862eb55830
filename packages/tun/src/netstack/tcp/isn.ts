/**
 * Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4 µs timer, F a keyed PRF — here HalfSipHash-2-4 (Aumasson & Bernstein), a
 * 32-bit keyed hash small enough for the portable core.
 */

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** HalfSipHash-2-4 of `msg` under the 64-bit key (k0, k1). */
export function halfSipHash(k0: number, k1: number, msg: Uint8Array): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const round = () => {
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  };
  const full = msg.length & ~3;
  for (let i = 0; i < full; i += 4) {
    const m = msg[i] | (msg[i + 1] << 8) | (msg[i + 2] << 16) | (msg[i + 3] << 24);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  let b = msg.length << 24;
  for (let i = full; i < msg.length; i++) b |= msg[i] << (8 * (i - full));
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

/** Keyed hash of a connection's 4-tuple (plus an optional extra word), reusing one scratch buffer. */
export class TupleHasher {
  private readonly k0: number;
  private readonly k1: number;
  private readonly scratch = new Uint8Array(16 + 16 + 4 + 4);

  constructor(key: Uint8Array) {
    if (key.length < 8) throw new Error("TupleHasher: key must be 8 bytes");
    this.k0 = key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24);
    this.k1 = key[4] | (key[5] << 8) | (key[6] << 16) | (key[7] << 24);
  }

  hash(
    localAddr: Uint8Array,
    localPort: number,
    remoteAddr: Uint8Array,
    remotePort: number,
    extra = 0,
  ): number {
    const s = this.scratch;
    s.set(localAddr, 0);
    let i = localAddr.length;
    s.set(remoteAddr, i);
    i += remoteAddr.length;
    s[i++] = localPort >>> 8;
    s[i++] = localPort;
    s[i++] = remotePort >>> 8;
    s[i++] = remotePort;
    s[i++] = extra >>> 24;
    s[i++] = extra >>> 16;
    s[i++] = extra >>> 8;
    s[i++] = extra;
    return halfSipHash(this.k0, this.k1, s.subarray(0, i));
  }
}

/** RFC 6528: the 4 µs clock M plus the keyed hash F. */
export function initialSequenceNumber(
  hasher: TupleHasher,
  local: Uint8Array,
  localPort: number,
  remote: Uint8Array,
  remotePort: number,
  nowMs: number,
): number {
  return (hasher.hash(local, localPort, remote, remotePort) + Math.floor(nowMs * 250)) >>> 0;
}
