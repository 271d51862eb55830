/**
 * A set of IP addresses as sorted, disjoint, inclusive ranges per family (like Go's
 * netipx.IPSet), with union, subtraction, intersection test and conversion back to the minimal
 * list of CIDR prefixes. Used to build peers' allowed IPs (reference/kubespan.md §4.1).
 */
import { type Cidr, formatCidr, makeCidr } from "@wirespan/noise";

interface Range {
  readonly lo: bigint;
  readonly hi: bigint;
}

function toBig(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBig(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function normalise(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) out[out.length - 1] = { lo: last.lo, hi: r.hi };
    } else {
      out.push(r);
    }
  }
  return out;
}

function subtract(a: readonly Range[], b: readonly Range[]): Range[] {
  let current = [...a];
  for (const cut of b) {
    const next: Range[] = [];
    for (const r of current) {
      if (cut.hi < r.lo || cut.lo > r.hi) {
        next.push(r);
        continue;
      }
      if (cut.lo > r.lo) next.push({ lo: r.lo, hi: cut.lo - 1n });
      if (cut.hi < r.hi) next.push({ lo: cut.hi + 1n, hi: r.hi });
    }
    current = next;
  }
  return current;
}

function overlaps(a: readonly Range[], b: readonly Range[]): boolean {
  return a.some((x) => b.some((y) => x.lo <= y.hi && y.lo <= x.hi));
}

/** Minimal prefixes covering exactly [lo, hi] in a `width`-bit space. */
function rangeToPrefixes(r: Range, width: number): Cidr[] {
  const out: Cidr[] = [];
  let lo = r.lo;
  while (lo <= r.hi) {
    // Largest block aligned at lo that fits in the range.
    let size = 0;
    while (
      size < width &&
      (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n &&
      lo + (1n << BigInt(size + 1)) - 1n <= r.hi
    ) {
      size++;
    }
    out.push(makeCidr(fromBig(lo, width / 8), width - size));
    lo += 1n << BigInt(size);
  }
  return out;
}

export class IpSet {
  private constructor(
    private readonly v4: readonly Range[],
    private readonly v6: readonly Range[],
  ) {}

  static empty(): IpSet {
    return new IpSet([], []);
  }

  static of(prefixes: Iterable<Cidr>): IpSet {
    const v4: Range[] = [];
    const v6: Range[] = [];
    for (const p of prefixes) {
      const width = p.bytes.length * 8;
      const lo = toBig(p.bytes);
      const hi = lo + (1n << BigInt(width - p.bits)) - 1n;
      (p.family === 4 ? v4 : v6).push({ lo, hi });
    }
    return new IpSet(normalise(v4), normalise(v6));
  }

  union(other: IpSet): IpSet {
    return new IpSet(normalise([...this.v4, ...other.v4]), normalise([...this.v6, ...other.v6]));
  }

  minus(other: IpSet): IpSet {
    return new IpSet(subtract(this.v4, other.v4), subtract(this.v6, other.v6));
  }

  overlaps(other: IpSet): boolean {
    return overlaps(this.v4, other.v4) || overlaps(this.v6, other.v6);
  }

  isEmpty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  /** The minimal prefix list, IPv4 first, ascending. */
  prefixes(): Cidr[] {
    return [
      ...this.v4.flatMap((r) => rangeToPrefixes(r, 32)),
      ...this.v6.flatMap((r) => rangeToPrefixes(r, 128)),
    ];
  }

  /** {@link prefixes} as canonical text. */
  toStrings(): string[] {
    return this.prefixes().map(formatCidr);
  }
}
