import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AllowedIPs } from "../src/allowed-ips.js";
import {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIp,
  makeCidr,
  parseCidr,
  parseIp,
} from "../src/cidr.js";

const ip = (s: string) => parseIp(s);

describe("cidr", () => {
  it("parses and prints canonically (RFC 5952, like Go netip)", () => {
    const cases: Array<[string, string]> = [
      ["198.19.5.5/16", "198.19.0.0/16"],
      ["fd00::1/8", "fd00::/8"],
      ["198.18.0.1", "198.18.0.1/32"],
      ["fd00::1", "fd00::1/128"],
      ["::/0", "::/0"],
      ["0.0.0.0/0", "0.0.0.0/0"],
      ["FD00:0:0:0:0:0:0:1/128", "fd00::1/128"],
      ["fd00:0:0:1:0:0:0:1/128", "fd00:0:0:1::1/128"],
      ["fd00:0:1:0:1:0:1:0/128", "fd00:0:1:0:1:0:1:0/128"],
      ["fd00::2:3:4:5:6:7/128", "fd00:0:2:3:4:5:6:7/128"],
      ["::ffff:198.18.0.1/128", "::ffff:198.18.0.1/128"],
      ["fd00:1:2:3:4:5:198.18.0.1/128", "fd00:1:2:3:4:5:c612:1/128"],
      ["fd00:1:2:3:4:5:6::/128", "fd00:1:2:3:4:5:6:0/128"],
    ];
    for (const [input, want] of cases) expect(formatCidr(parseCidr(input)), input).toBe(want);
  });

  it("rejects garbage with a clear error", () => {
    for (const bad of [
      "",
      "1.2.3",
      "01.2.3.4",
      "256.1.1.1",
      "1.2.3.4.5",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "1:2:3:4:5:6:7",
      ":1::",
      "1::2:",
      "::1.2.3.4:5",
      "fd00::1%eth0",
      "1.2.3.4/33",
      "fd00::/129",
      "1.2.3.4/",
      "1.2.3.4/08",
      "1.2.3.4/-1",
      "1.2.3.4/ 8",
      " 1.2.3.4",
      "a.b.c.d",
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(/invalid CIDR/);
    }
    expect(() => parseIp("1.2.3.4/8")).toThrow(/invalid IP address/);
  });

  it("round-trips random addresses and prefixes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        fc.nat(128),
        (bytes, n) => {
          expect(parseIp(formatIp(bytes))).toEqual(bytes);
          const c = makeCidr(bytes, n % (bytes.length * 8 + 1));
          const back = parseCidr(formatCidr(c));
          expect(back).toEqual(c);
          expect(cidrContains(c, bytes)).toBe(true);
        },
      ),
    );
  });
});

describe("AllowedIPs", () => {
  // Hand-written longest-prefix cases in the spirit of the kernel's selftest/allowedips.c
  // (three peers a, b, c over overlapping v4 and v6 prefixes).
  it("finds the longest matching prefix", () => {
    const t = new AllowedIPs<string>();
    t.insert(parseCidr("198.19.0.0/16"), "a");
    t.insert(parseCidr("198.19.1.0/24"), "b");
    t.insert(parseCidr("198.19.1.128/25"), "c");
    t.insert(parseCidr("198.19.1.200/32"), "a");
    t.insert(parseCidr("0.0.0.0/1"), "d");
    t.insert(parseCidr("fd00::/8"), "a");
    t.insert(parseCidr("fd00:1::/32"), "b");
    t.insert(parseCidr("fd00:1:0:0:8000::/65"), "c");
    t.insert(parseCidr("fd00:1::1/128"), "d");
    const want: Array<[string, string | undefined]> = [
      ["198.19.2.1", "a"],
      ["198.19.1.1", "b"],
      ["198.19.1.127", "b"],
      ["198.19.1.128", "c"],
      ["198.19.1.200", "a"],
      ["198.19.1.201", "c"],
      ["198.18.0.1", undefined],
      ["1.2.3.4", "d"],
      ["255.255.255.255", undefined],
      ["fd00::1", "a"],
      ["fd00:1::2", "b"],
      ["fd00:1::1", "d"],
      ["fd00:1::8000:0:0:1", "c"],
      ["fd00:1::7fff:0:0:1", "b"],
      ["fe80::1", undefined],
    ];
    for (const [addr, v] of want) expect(t.lookup(ip(addr)), addr).toBe(v);
  });

  it("handles /0 and /32 and /128 and a default route", () => {
    const t = new AllowedIPs<number>();
    t.insert(parseCidr("0.0.0.0/0"), 1);
    t.insert(parseCidr("::/0"), 2);
    t.insert(parseCidr("198.19.0.7/32"), 3);
    t.insert(parseCidr("fd00::7/128"), 4);
    expect(t.lookup(ip("8.8.8.8"))).toBe(1);
    expect(t.lookup(ip("198.19.0.7"))).toBe(3);
    expect(t.lookup(ip("198.19.0.6"))).toBe(1);
    expect(t.lookup(ip("::1"))).toBe(2);
    expect(t.lookup(ip("fd00::7"))).toBe(4);
    expect(t.lookup(ip("fd00::6"))).toBe(2);
  });

  it("reads addresses in place from a packet buffer", () => {
    const t = new AllowedIPs<string>();
    t.insert(parseCidr("198.19.0.0/16"), "v4");
    t.insert(parseCidr("fd00::/8"), "v6");
    const p4 = new Uint8Array(20);
    p4.set(ip("198.19.3.4"), 16);
    expect(t.lookup(p4, 16, 4)).toBe("v4");
    expect(t.lookup(p4, 12, 4)).toBeUndefined();
    const p6 = new Uint8Array(40);
    p6.set(ip("fd00::9"), 24);
    expect(t.lookup(p6, 24, 16)).toBe("v6");
    expect(t.lookup(p6, 24)).toBe("v6");
    // Truncated buffers and odd lengths never throw.
    expect(t.lookup(p6, 30, 16)).toBeUndefined();
    expect(t.lookup(new Uint8Array(5))).toBeUndefined();
    expect(t.lookup(p4, -1, 4)).toBeUndefined();
  });

  it("moves a prefix to a new value and masks host bits", () => {
    const t = new AllowedIPs<string>();
    t.insert(parseCidr("198.19.0.0/24"), "a");
    t.insert(parseCidr("198.19.0.99/24"), "b");
    expect(t.lookup(ip("198.19.0.5"))).toBe("b");
    expect(t.entries("a")).toEqual([]);
    expect(t.entries("b").map(formatCidr)).toEqual(["198.19.0.0/24"]);
    expect(t.remove(parseCidr("198.19.0.0/24"), "a")).toBe(false);
    expect(t.lookup(ip("198.19.0.5"))).toBe("b");
    expect(t.remove(parseCidr("198.19.0.0/24"), "b")).toBe(true);
    expect(t.lookup(ip("198.19.0.5"))).toBeUndefined();
    expect(t.remove(parseCidr("198.19.0.0/24"), "b")).toBe(false);
  });

  it("removes without disturbing the rest, and removeValue drops all of a value", () => {
    const t = new AllowedIPs<string>();
    const prefixes = ["198.19.0.0/16", "198.19.1.0/24", "198.19.1.0/25", "fd00::/8", "fd00:1::/32"];
    for (const p of prefixes) t.insert(parseCidr(p), p.includes(":") ? "six" : "four");
    t.insert(parseCidr("198.19.2.0/24"), "six");
    expect(t.remove(parseCidr("198.19.1.0/24"), "four")).toBe(true);
    expect(t.lookup(ip("198.19.1.200"))).toBe("four"); // falls back to /16
    expect(t.lookup(ip("198.19.1.2"))).toBe("four"); // /25
    expect(t.lookup(ip("198.19.2.2"))).toBe("six");
    expect(t.entries("four").map(formatCidr)).toEqual(["198.19.0.0/16", "198.19.1.0/25"]);
    t.removeValue("six");
    expect(t.entries("six")).toEqual([]);
    expect(t.lookup(ip("fd00::1"))).toBeUndefined();
    expect(t.lookup(ip("198.19.2.2"))).toBe("four");
    t.clear();
    expect(t.lookup(ip("198.19.1.2"))).toBeUndefined();
    expect(t.entries("four")).toEqual([]);
  });

  it("prunes every node once all prefixes are removed (no leaked intermediate nodes)", () => {
    const t = new AllowedIPs<number>();
    const rand = rng(7);
    const cidrs: Cidr[] = [];
    for (let i = 0; i < 2000; i++) {
      const len = i % 2 === 0 ? 4 : 16;
      const c = makeCidr(
        Uint8Array.from({ length: len }, () => Math.floor(rand() * 4)),
        Math.floor(rand() * (len * 8 + 1)),
      );
      t.insert(c, i % 10);
      cidrs.push(c);
    }
    const roots = t as unknown as { root4: unknown; root6: unknown };
    for (let v = 0; v < 5; v++) t.removeValue(v);
    for (const c of cidrs) for (let v = 5; v < 10; v++) t.remove(c, v);
    expect(roots.root4).toBeNull();
    expect(roots.root6).toBeNull();
  });

  it("rejects malformed Cidr objects given by the caller", () => {
    const t = new AllowedIPs<number>();
    expect(() => t.insert({ family: 4, bytes: new Uint8Array(16), bits: 8 }, 1)).toThrow();
    expect(() => t.insert({ family: 6, bytes: new Uint8Array(16), bits: 129 }, 1)).toThrow();
  });
});

/** Seeded PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The naive reference: a list of prefixes, longest match by linear scan. */
class NaiveTable {
  readonly rows = new Map<string, { cidr: Cidr; value: number }>();
  insert(c: Cidr, v: number) {
    this.rows.set(formatCidr(c), { cidr: c, value: v });
  }
  remove(c: Cidr, v: number): boolean {
    const k = formatCidr(c);
    if (this.rows.get(k)?.value !== v) return false;
    this.rows.delete(k);
    return true;
  }
  removeValue(v: number) {
    for (const [k, r] of this.rows) if (r.value === v) this.rows.delete(k);
  }
  lookup(a: Uint8Array): number | undefined {
    let best: { cidr: Cidr; value: number } | undefined;
    for (const r of this.rows.values()) {
      if (cidrContains(r.cidr, a) && (best === undefined || r.cidr.bits > best.cidr.bits)) best = r;
    }
    return best?.value;
  }
  entries(v: number): string[] {
    return [...this.rows.values()]
      .filter((r) => r.value === v)
      .map((r) => formatCidr(r.cidr))
      .sort();
  }
}

describe("AllowedIPs randomised against a naive table", () => {
  for (const family of [4, 6] as const) {
    it(`IPv${family}: 100 values, 3000 prefixes, removals, 20000 lookups`, () => {
      const rand = rng(family === 4 ? 0xa110 : 0xa116);
      const len = family === 4 ? 4 : 16;
      const randBytes = () => Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      // Cluster addresses so prefixes overlap a lot (as in wireguard-go's allowedips_rand_test).
      const bases = Array.from({ length: 16 }, randBytes);
      const randAddr = () => {
        const a = Uint8Array.from(bases[Math.floor(rand() * bases.length)]);
        const keep = Math.floor(rand() * len);
        for (let i = keep; i < len; i++) a[i] = Math.floor(rand() * 256);
        return a;
      };
      const t = new AllowedIPs<number>();
      const n = new NaiveTable();
      const inserted: Cidr[] = [];
      for (let i = 0; i < 3000; i++) {
        const c = makeCidr(randAddr(), Math.floor(rand() * (len * 8 + 1)));
        const v = Math.floor(rand() * 100);
        t.insert(c, v);
        n.insert(c, v);
        inserted.push(c);
        if (i % 7 === 0) {
          const victim = inserted[Math.floor(rand() * inserted.length)];
          const owner = Math.floor(rand() * 100);
          expect(t.remove(victim, owner)).toBe(n.remove(victim, owner));
          const real = n.rows.get(formatCidr(victim));
          if (real !== undefined && rand() < 0.5) {
            expect(t.remove(victim, real.value)).toBe(n.remove(victim, real.value));
          }
        }
        if (i % 500 === 499) {
          const v = Math.floor(rand() * 100);
          t.removeValue(v);
          n.removeValue(v);
        }
      }
      let hits = 0;
      for (let i = 0; i < 20000; i++) {
        const a = randAddr();
        const want = n.lookup(a);
        if (want !== undefined) hits++;
        expect(t.lookup(a)).toBe(want);
      }
      // The comparison is meaningful only if many lookups hit something.
      expect(hits).toBeGreaterThan(2000);
      for (let v = 0; v < 100; v++)
        expect(t.entries(v).map(formatCidr).sort()).toEqual(n.entries(v));
    });
  }
});
