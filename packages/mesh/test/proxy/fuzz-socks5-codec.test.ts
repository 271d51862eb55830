/**
 * Property tests of the SOCKS5 parsers (input from the network): any bytes give "need more", a
 * message, or a counted error — never an exception — and every parse is a prefix decision (more
 * bytes never turn a complete message into a different one). Addresses round-trip.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeAddress,
  encodeUdpDatagram,
  isMalformed,
  NEED_MORE,
  type Parsed,
  parseAddress,
  parseGreeting,
  parseRequest,
  parseUdpDatagram,
  parseUserPass,
} from "../../src/proxy/socks5-codec.js";

const bytes = fc.uint8Array({ maxLength: 600 });
const socksish = fc.oneof(
  bytes,
  fc
    .tuple(fc.constantFrom(1, 5), fc.uint8Array({ maxLength: 300 }))
    .map(([v, rest]) => Uint8Array.of(v, ...rest)),
  fc
    .tuple(fc.uint8Array({ minLength: 3, maxLength: 3 }), fc.constantFrom(1, 3, 4), bytes)
    .map(([h, t, rest]) => Uint8Array.of(5, h[1] % 4, 0, t, ...rest)),
);

describe("SOCKS5 codec under arbitrary input", () => {
  it("never throws, and a complete parse is stable under appended bytes", () => {
    const parsers: Array<(b: Uint8Array) => Parsed<unknown>> = [
      parseGreeting,
      parseUserPass,
      parseRequest,
    ];
    for (const parse of parsers) {
      fc.assert(
        fc.property(socksish, bytes, (b, more) => {
          const p = parse(b);
          if (p === NEED_MORE || isMalformed(p)) return;
          expect(p.length).toBeLessThanOrEqual(b.length);
          const q = parse(Uint8Array.of(...b, ...more));
          expect(q).toEqual(p);
        }),
      );
    }
    fc.assert(
      fc.property(bytes, (b) => {
        parseUdpDatagram(b);
      }),
    );
  });

  it("round-trips IPv4, IPv6 and domain addresses", () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6().filter((h) => !h.includes(".")),
      fc.domain().filter((d) => d.length <= 255),
    );
    fc.assert(
      fc.property(
        host,
        fc.integer({ min: 0, max: 65535 }),
        fc.uint8Array({ maxLength: 64 }),
        (h, port, data) => {
          const a = parseAddress(encodeAddress(h, port), 0);
          if (a === NEED_MORE || isMalformed(a)) throw new Error(`did not parse ${h}`);
          expect(a.value.port).toBe(port);
          expect(encodeAddress(a.value.host, port)).toEqual(encodeAddress(h, port));
          const d = parseUdpDatagram(encodeUdpDatagram(h, port, data));
          if ("error" in d) throw new Error(d.error);
          expect(d.frag).toBe(0);
          expect([...d.data]).toEqual([...data]);
        },
      ),
    );
  });
});
