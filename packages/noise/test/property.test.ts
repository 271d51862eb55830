import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Endpoint } from "../src/endpoint.js";
import { type Datagram, hex, ipv4, type Net, type Node, pair } from "./support/net.js";

/** A state fingerprint that must not move when bad input is dropped. */
function fingerprint(n: Node): string {
  return JSON.stringify(
    n.engine.peers().map((p) => ({
      k: hex(p.publicKey),
      e: p.endpoint,
      tx: p.txBytes.toString(),
      rx: p.rxBytes.toString(),
      h: p.lastHandshakeNs.toString(),
    })),
  );
}

const totalDrops = (n: Node): number => Object.values(n.engine.drops).reduce((s, x) => s + x, 0);

const stranger: Endpoint = { address: "198.18.0.66", port: 4444, family: 4 };

/**
 * Two peers with a session, plus one captured datagram of every message type, each with the
 * node that would receive it.
 */
function established(): { net: Net; a: Node; b: Node; samples: Array<[Datagram, Node]> } {
  const { net, a, b } = pair();
  // A cookie reply: b under load answers a's first initiation with one.
  b.engine.underLoadThreshold = 0;
  net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
  net.advance(5_400);
  b.engine.underLoadThreshold = 1_000;
  net.send(a, ipv4("198.19.0.1", "198.19.0.2", 50));
  net.send(b, ipv4("198.19.0.2", "198.19.0.1", 70));
  net.advance(10_001); // keepalive from a (b's data went unanswered)
  const first = (from: Node, type: number, len?: number): Datagram => {
    const d = net.wire.find(
      (x) =>
        x.from === from.endpoint &&
        x.data[0] === type &&
        (len === undefined || x.data.length === len),
    );
    if (d === undefined) throw new Error(`no sample of type ${type}`);
    return d;
  };
  const samples: Array<[Datagram, Node]> = [
    [first(a, 1), b],
    [first(b, 2), a],
    [first(b, 3), a],
    [first(a, 4, 32 + 32), b], // data
    [first(a, 4, 32), b], // keepalive
    [first(b, 4, 32 + 96), a],
  ];
  return { net, a, b, samples };
}

type Mutation =
  | { kind: "truncate"; len: number }
  | { kind: "extend"; extra: Uint8Array }
  | { kind: "flip"; bit: number };

function mutate(data: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case "truncate":
      return data.slice(0, m.len % data.length);
    case "extend": {
      const out = new Uint8Array(data.length + m.extra.length);
      out.set(data);
      out.set(m.extra, data.length);
      return out;
    }
    case "flip": {
      const out = data.slice();
      const bit = m.bit % (data.length * 8);
      out[bit >> 3] ^= 1 << (bit & 7);
      return out;
    }
  }
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), len: fc.nat() }),
  fc.record({
    kind: fc.constant("extend" as const),
    extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({ kind: fc.constant("flip" as const), bit: fc.nat() }),
);

describe("property: malformed datagrams", () => {
  it("any truncated, extended or bit-flipped datagram of every type is dropped, counted, harmless", () => {
    const { net, a, b, samples } = established();
    fc.assert(
      fc.property(
        fc.nat({ max: samples.length - 1 }),
        mutation,
        fc.boolean(),
        (i, m, fromStranger) => {
          const [d, to] = samples[i];
          const bad = mutate(d.data, m);
          const fa = fingerprint(a);
          const fb = fingerprint(b);
          const drops = totalDrops(to);
          const wire = net.wire.length;
          const delivered = a.delivered.length + b.delivered.length;
          net.inject(to, bad, fromStranger ? stranger : d.from);
          expect(totalDrops(to)).toBe(drops + 1);
          expect(fingerprint(a)).toBe(fa);
          expect(fingerprint(b)).toBe(fb);
          expect(net.wire.length).toBe(wire);
          expect(a.delivered.length + b.delivered.length).toBe(delivered);
        },
      ),
      { numRuns: 400 },
    );
    // The session survived: both directions still work without a new handshake.
    const wire = net.wire.length;
    const p = ipv4("198.19.0.1", "198.19.0.2", 5);
    const q = ipv4("198.19.0.2", "198.19.0.1", 6);
    net.send(a, p);
    net.send(b, q);
    expect(b.delivered.at(-1)).toEqual(p);
    expect(a.delivered.at(-1)).toEqual(q);
    expect(net.wire.slice(wire).every((x) => x.data[0] === 4)).toBe(true);
  });

  it("replayed transport packets are rejected, in any order and any number of times", () => {
    const { net, a, b } = pair();
    const start = net.wire.length;
    for (let i = 0; i < 20; i++) net.send(a, ipv4("198.19.0.1", "198.19.0.2", i + 1));
    const sent = net.wire.slice(start).filter((d) => d.from === a.endpoint && d.data[0] === 4);
    expect(b.delivered).toHaveLength(20);
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: sent.length - 1 }), { minLength: 1, maxLength: 30 }),
        (picks) => {
          const before = b.engine.drops["transport-replay"] ?? 0;
          for (const i of picks) net.inject(b, sent[i].data, a.endpoint);
          expect(b.engine.drops["transport-replay"]).toBe(before + picks.length);
          expect(b.delivered).toHaveLength(20);
        },
      ),
      { numRuns: 50 },
    );
  });
});
