/**
 * Fuzz of what the NAT code parses from the network: the STUN codec (RFC 8489) and the relay's
 * frames. Any bytes give null or a well-formed message, never a throw; whatever the encoders build
 * parses back unchanged; mutating an encoded STUN message never yields a different address.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeStun, encodeBindingSuccess, isStun } from "../src/nat/stun.js";
import { decodeFrame, encodeFrame, FrameType, type RelayFrame } from "../src/relay/protocol.js";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join("."));
const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => {
  // canonical text, as the decoder produces it
  const text = g.map((x) => x.toString(16)).join(":");
  return text;
});

/** STUN-shaped bytes: valid header with random attributes, or anything at all. */
const stunish = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.nat(0x3fff), bytes(12), fc.uint8Array({ maxLength: 120 })).map(([type, tx, body]) => {
    const len = body.length & ~3;
    const out = new Uint8Array(20 + len);
    out[0] = type >> 8;
    out[1] = type & 0xff;
    out[2] = len >> 8;
    out[3] = len & 0xff;
    out.set([0x21, 0x12, 0xa4, 0x42], 4);
    out.set(tx, 8);
    out.set(body.subarray(0, len), 20);
    return out;
  }),
);

describe("fuzz: STUN codec", () => {
  it("never throws; a decoded message is STUN with a 12-byte transaction ID", () => {
    fc.assert(
      fc.property(stunish, (data) => {
        const m = decodeStun(data);
        if (m === null) return;
        expect(isStun(data)).toBe(true);
        expect(m.transactionId.length).toBe(12);
        if (m.mapped) expect(m.mapped.port).toBeLessThanOrEqual(65535);
      }),
      { numRuns: 3000 },
    );
  });

  it("round-trips any address and never misreads a corrupted one", () => {
    fc.assert(
      fc.property(
        bytes(12),
        fc.oneof(
          v4.map((a) => ({ address: a, family: 4 as const })),
          v6.map((a) => ({ address: a, family: 6 as const })),
        ),
        fc.integer({ min: 1, max: 65535 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (tx, addr, port, where, flip) => {
          const msg = encodeBindingSuccess(tx, { ...addr, port });
          const m = decodeStun(msg);
          expect(m?.mapped?.port).toBe(port);
          expect(m?.mapped?.family).toBe(addr.family);
          const bad = msg.slice();
          bad[20 + (where % (msg.length - 20))] ^= flip;
          const b = decodeStun(bad);
          // FINGERPRINT covers every byte before it: corruption is refused, never misread (a
          // corrupted length can swallow the FINGERPRINT: then the address is lost, not changed).
          if (b?.mapped) expect(b.mapped).toEqual(m?.mapped);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

const frame: fc.Arbitrary<RelayFrame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.ServerHello),
    version: fc.nat(255),
    serverKey: bytes(32),
    challenge: bytes(32),
  }),
  fc.record({
    type: fc.constant(FrameType.ClientHello),
    clientKey: bytes(32),
    clusterId: fc.string({ minLength: 1, maxLength: 60 }),
    keyMac: bytes(32),
    clusterMac: bytes(32),
  }),
  fc.record({ type: fc.constant(FrameType.Welcome), rateBytesPerSecond: fc.nat(0xffffffff) }),
  fc.record({ type: fc.constant(FrameType.Refused), reason: fc.string({ maxLength: 100 }) }),
  fc.record({
    type: fc.constantFrom(FrameType.Send, FrameType.Recv),
    key: bytes(32),
    packets: fc.array(fc.uint8Array({ minLength: 1, maxLength: 1500 }), {
      minLength: 1,
      maxLength: 8,
    }),
  }),
  fc.record({ type: fc.constant(FrameType.PeerGone), key: bytes(32) }),
) as fc.Arbitrary<RelayFrame>;

const normalise = (f: RelayFrame | null) =>
  JSON.parse(JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));

describe("fuzz: relay frames", () => {
  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(fc.constantFrom(1, 2, 3, 4, 0x10, 0x11, 0x12), fc.uint8Array({ maxLength: 200 }))
            .map(([t, b]) => Uint8Array.of(t, ...b)),
        ),
        (data) => {
          const f = decodeFrame(data);
          if (f !== null) expect(Object.values(FrameType)).toContain(f.type);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("a batch decodes only when its records fill it exactly, and re-encodes to the same bytes", () => {
    // Well-formed records, and records whose length field says anything.
    const record = fc.oneof(
      fc
        .uint8Array({ minLength: 1, maxLength: 40 })
        .map((p) => Uint8Array.of(p.length >> 8, p.length & 0xff, ...p)),
      fc
        .tuple(fc.nat(70_000), fc.uint8Array({ maxLength: 40 }))
        .map(([len, body]) => Uint8Array.of(len >> 8, len & 0xff, ...body)),
    );
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(FrameType.Send, FrameType.Recv),
        bytes(32),
        fc.array(record, { maxLength: 6 }),
        (type, key, records) => {
          const data = Buffer.concat([Uint8Array.of(type), key, ...records]);
          const f = decodeFrame(data);
          if (f === null) return;
          decoded++;
          expect(f.type).toBe(type);
          expect(Buffer.from(encodeFrame(f)).equals(data)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
    expect(decoded).toBeGreaterThan(100);
  });

  it("decodes every encoded frame to the same frame", () => {
    fc.assert(
      fc.property(frame, (f) => {
        expect(normalise(decodeFrame(encodeFrame(f)))).toEqual(normalise(f));
      }),
      { numRuns: 2000 },
    );
  });
});
