/**
 * Fuzz of the address parsers (parseIp, parseCidr, parseEndpoint): any text gives a value or an
 * Error with a message naming the problem — never a TypeError or a RangeError — and whatever they
 * accept prints canonically and parses back to the same value.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCidr, formatIp, parseCidr, parseIp } from "../src/cidr.js";
import { formatEndpoint, parseEndpoint } from "../src/endpoint.js";

/** Runs `f`; returns its value, or null when it threw a plain Error with a message. */
function attempt<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).constructor).toBe(Error);
    expect((e as Error).message).toMatch(/^invalid /);
    return null;
  }
}

/** Text that is close to an address: digits, hex, separators, brackets, odd characters. */
const addressy = fc
  .array(
    fc.constantFrom(
      "0",
      "1",
      "00",
      "255",
      "256",
      "999",
      "0x1",
      "ffff",
      "FFFF",
      "10000",
      "g",
      ".",
      ":",
      "::",
      "/",
      "[",
      "]",
      "%eth0",
      "-",
      "+",
      " ",
      "\n",
      "\u0000",
      "١",
      "32",
      "128",
      "65535",
      "65536",
      "1.2.3.4",
      "::ffff:",
    ),
    { maxLength: 16 },
  )
  .map((parts) => parts.join(""));

const anyText = fc.oneof(
  addressy,
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.ipV4().map((a) => a),
  fc.ipV6(),
  fc.ipV4Extended(),
);

/** Any non-string value a loosely typed caller might pass. */
const notText = fc.oneof(fc.integer(), fc.constant(null), fc.constant(undefined), fc.object());

describe("address parser fuzz", () => {
  it("parseIp: bytes of length 4/16 that print and parse back, or an Error", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const b = attempt(() => parseIp(text));
        if (b === null) return;
        expect([4, 16]).toContain(b.length);
        const printed = formatIp(b);
        expect(parseIp(printed)).toEqual(b);
        expect(formatIp(parseIp(printed))).toBe(printed);
      }),
      { numRuns: 2000 },
    );
  });

  it("parseCidr: a masked prefix that round-trips, or an Error", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc
            .tuple(anyText, fc.oneof(addressy, fc.nat(200).map(String)))
            .map(([a, b]) => `${a}/${b}`),
        ),
        (text) => {
          const c = attempt(() => parseCidr(text));
          if (c === null) return;
          expect(c.bytes.length).toBe(c.family === 4 ? 4 : 16);
          expect(c.bits).toBeGreaterThanOrEqual(0);
          expect(c.bits).toBeLessThanOrEqual(c.bytes.length * 8);
          const printed = formatCidr(c);
          expect(parseCidr(printed)).toEqual(c);
          expect(formatCidr(parseCidr(printed))).toBe(printed);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("parseEndpoint: an endpoint that round-trips, or an Error", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc
            .tuple(
              fc.boolean(),
              anyText,
              fc.oneof(addressy, fc.integer({ min: -1, max: 70000 }).map(String)),
            )
            .map(([br, a, p]) => (br ? `[${a}]:${p}` : `${a}:${p}`)),
        ),
        (text) => {
          const e = attempt(() => parseEndpoint(text));
          if (e === null) return;
          expect(Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535).toBe(true);
          expect(parseIp(e.address)).toHaveLength(e.family === 4 ? 4 : 16);
          const printed = formatEndpoint(e);
          expect(parseEndpoint(printed)).toEqual(e);
          expect(formatEndpoint(parseEndpoint(printed))).toBe(printed);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("all three refuse non-strings with an Error", () => {
    fc.assert(
      fc.property(notText, (v) => {
        const x = v as unknown as string;
        expect(attempt(() => parseIp(x))).toBeNull();
        expect(attempt(() => parseCidr(x))).toBeNull();
        expect(attempt(() => parseEndpoint(x))).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it("formatIp refuses byte strings of other lengths with an Error", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }).filter((b) => b.length !== 4 && b.length !== 16),
        (b) => {
          expect(() => formatIp(b)).toThrow(/must be 4 or 16 bytes/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
