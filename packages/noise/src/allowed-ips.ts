/**
 * Cryptokey routing table (whitepaper §2; reference §1.1 "Allowed-IPs structure", "Inbound
 * source check"): a path-compressed binary trie per address family, the same shape as the
 * kernel's and wireguard-go's. Each node holds a prefix as big-endian 32-bit words plus
 * precomputed masks, so a lookup reads the address straight out of a packet buffer and
 * compares one word (IPv4) or up to four (IPv6) per node, with no allocation.
 */
import { type Cidr, makeCidr } from "./cidr.js";

class Node<T> {
  k0 = 0;
  k1 = 0;
  k2 = 0;
  k3 = 0;
  m0 = 0;
  m1 = 0;
  m2 = 0;
  m3 = 0;
  child0: Node<T> | null = null;
  child1: Node<T> | null = null;
  parent: Node<T> | null = null;
  value: T | undefined = undefined;
  hasValue = false;

  constructor(
    readonly family: 4 | 6,
    key: readonly number[],
    /** Prefix length; also the index of the bit that picks the child. */
    readonly cidr: number,
  ) {
    const m = maskWords(cidr);
    this.k0 = (key[0] & m[0]) >>> 0;
    this.k1 = (key[1] & m[1]) >>> 0;
    this.k2 = (key[2] & m[2]) >>> 0;
    this.k3 = (key[3] & m[3]) >>> 0;
    this.m0 = m[0];
    this.m1 = m[1];
    this.m2 = m[2];
    this.m3 = m[3];
  }

  keyWords(): number[] {
    return [this.k0, this.k1, this.k2, this.k3];
  }

  matches(w: readonly number[]): boolean {
    return (
      (((w[0] ^ this.k0) & this.m0) |
        ((w[1] ^ this.k1) & this.m1) |
        ((w[2] ^ this.k2) & this.m2) |
        ((w[3] ^ this.k3) & this.m3)) ===
      0
    );
  }

  toCidr(): Cidr {
    const words = this.keyWords();
    const bytes = new Uint8Array(this.family === 4 ? 4 : 16);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (words[i >> 2] >>> (24 - (i & 3) * 8)) & 0xff;
    return makeCidr(bytes, this.cidr);
  }
}

function maskWords(cidr: number): number[] {
  const m: number[] = [];
  for (let i = 0; i < 4; i++) {
    const n = Math.min(Math.max(cidr - i * 32, 0), 32);
    m.push(n === 0 ? 0 : n === 32 ? 0xffffffff : (0xffffffff << (32 - n)) >>> 0);
  }
  return m;
}

/** Bit `pos` (0 = most significant) of a key given as four words. */
function bitOf(w: readonly number[], pos: number): 0 | 1 {
  return ((w[pos >>> 5] >>> (31 - (pos & 31))) & 1) as 0 | 1;
}

/** Number of leading bits two keys share. */
function commonBits(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 4; i++) {
    const x = (a[i] ^ b[i]) >>> 0;
    if (x !== 0) return i * 32 + Math.clz32(x);
  }
  return 128;
}

function cidrWords(c: Cidr): number[] {
  const b = c.bytes;
  const w = [0, 0, 0, 0];
  for (let i = 0; i < b.length; i++) w[i >> 2] |= b[i] << (24 - (i & 3) * 8);
  return w.map((x) => x >>> 0);
}

function child<T>(n: Node<T>, bit: 0 | 1): Node<T> | null {
  return bit === 0 ? n.child0 : n.child1;
}

export class AllowedIPs<T> {
  private root4: Node<T> | null = null;
  private root6: Node<T> | null = null;
  /** Nodes each value owns, in insertion order. */
  private readonly byValue = new Map<T, Set<Node<T>>>();

  /** Adds `cidr` → `value`. A prefix already owned by another value moves to `value`. */
  insert(cidr: Cidr, value: T): void {
    checkCidr(cidr);
    const node = this.insertNode(cidr.family, cidrWords(cidr), cidr.bits);
    if (node.hasValue) this.byValue.get(node.value as T)?.delete(node);
    node.value = value;
    node.hasValue = true;
    let set = this.byValue.get(value);
    if (set === undefined) {
      set = new Set();
      this.byValue.set(value, set);
    }
    set.add(node);
  }

  /** Removes `cidr` if `value` currently owns it; returns whether it did. */
  remove(cidr: Cidr, value: T): boolean {
    checkCidr(cidr);
    const node = this.findExact(cidr.family, cidrWords(cidr), cidr.bits);
    if (node === null || !node.hasValue || node.value !== value) return false;
    this.dropNode(node);
    return true;
  }

  /** Removes every prefix `value` owns. */
  removeValue(value: T): void {
    const set = this.byValue.get(value);
    if (set === undefined) return;
    for (const node of [...set]) this.dropNode(node);
    this.byValue.delete(value);
  }

  /**
   * Longest-prefix match. Reads `length` bytes (4 or 16) at `offset` of `address` in place,
   * e.g. an IPv4 destination at offset 16 or IPv6 at 24 of a packet. Without `length`, the
   * bytes from `offset` to the end must be 4 or 16. Out-of-range input returns undefined.
   */
  lookup(address: Uint8Array, offset = 0, length?: 4 | 16): T | undefined {
    const len = length ?? address.length - offset;
    if (offset < 0 || offset + len > address.length) return undefined;
    if (len === 4) return this.lookup4(address, offset);
    if (len === 16) return this.lookup6(address, offset);
    return undefined;
  }

  /** The prefixes `value` owns, in the order they were given to it. */
  entries(value: T): Cidr[] {
    const set = this.byValue.get(value);
    return set === undefined ? [] : [...set].map((n) => n.toCidr());
  }

  clear(): void {
    this.root4 = null;
    this.root6 = null;
    this.byValue.clear();
  }

  private lookup4(a: Uint8Array, o: number): T | undefined {
    const w = ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
    let node = this.root4;
    let found: T | undefined;
    while (node !== null && ((w ^ node.k0) & node.m0) === 0) {
      if (node.hasValue) found = node.value;
      const c = node.cidr;
      if (c === 32) break;
      node = ((w >>> (31 - c)) & 1) === 0 ? node.child0 : node.child1;
    }
    return found;
  }

  private lookup6(a: Uint8Array, o: number): T | undefined {
    const w0 = ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
    const w1 = ((a[o + 4] << 24) | (a[o + 5] << 16) | (a[o + 6] << 8) | a[o + 7]) >>> 0;
    const w2 = ((a[o + 8] << 24) | (a[o + 9] << 16) | (a[o + 10] << 8) | a[o + 11]) >>> 0;
    const w3 = ((a[o + 12] << 24) | (a[o + 13] << 16) | (a[o + 14] << 8) | a[o + 15]) >>> 0;
    let node = this.root6;
    let found: T | undefined;
    while (
      node !== null &&
      (((w0 ^ node.k0) & node.m0) |
        ((w1 ^ node.k1) & node.m1) |
        ((w2 ^ node.k2) & node.m2) |
        ((w3 ^ node.k3) & node.m3)) ===
        0
    ) {
      if (node.hasValue) found = node.value;
      const c = node.cidr;
      if (c === 128) break;
      const word = c < 64 ? (c < 32 ? w0 : w1) : c < 96 ? w2 : w3;
      node = ((word >>> (31 - (c & 31))) & 1) === 0 ? node.child0 : node.child1;
    }
    return found;
  }

  private getRoot(family: 4 | 6): Node<T> | null {
    return family === 4 ? this.root4 : this.root6;
  }

  private setRoot(family: 4 | 6, n: Node<T> | null): void {
    if (family === 4) this.root4 = n;
    else this.root6 = n;
    if (n !== null) n.parent = null;
  }

  /** Puts `n` where `old` was (under old's parent, or as the root). */
  private replace(old: Node<T>, n: Node<T> | null): void {
    const p = old.parent;
    if (p === null) {
      this.setRoot(old.family, n);
      return;
    }
    if (p.child0 === old) p.child0 = n;
    else p.child1 = n;
    if (n !== null) n.parent = p;
  }

  private static attach<T>(parent: Node<T>, bit: 0 | 1, n: Node<T>): void {
    if (bit === 0) parent.child0 = n;
    else parent.child1 = n;
    n.parent = parent;
  }

  /** Finds or creates the node for exactly (key, cidr) (kernel allowedips.c `add` shape). */
  private insertNode(family: 4 | 6, key: number[], cidr: number): Node<T> {
    const root = this.getRoot(family);
    if (root === null) {
      const n = new Node<T>(family, key, cidr);
      this.setRoot(family, n);
      return n;
    }
    // Deepest existing node whose prefix contains key and is no longer than cidr.
    let parent: Node<T> | null = null;
    let node: Node<T> | null = root;
    while (node !== null && node.cidr <= cidr && node.matches(key)) {
      parent = node;
      if (node.cidr === cidr) return node;
      node = child(node, bitOf(key, node.cidr));
    }
    const fresh = new Node<T>(family, key, cidr);
    if (node === null) {
      // parent is non-null here: root matched, and the child slot for key is empty.
      AllowedIPs.attach(parent as Node<T>, bitOf(key, (parent as Node<T>).cidr), fresh);
      return fresh;
    }
    // `node` diverges from key (or is longer): split at the shared prefix.
    const down = node;
    const downKey = down.keyWords();
    const split = Math.min(cidr, commonBits(downKey, key), down.cidr);
    if (split === cidr) {
      // The new prefix contains `down`: it goes in between.
      this.replace(down, fresh);
      AllowedIPs.attach(fresh, bitOf(downKey, cidr), down);
      return fresh;
    }
    const mid = new Node<T>(family, key, split);
    this.replace(down, mid);
    AllowedIPs.attach(mid, bitOf(downKey, split), down);
    AllowedIPs.attach(mid, bitOf(key, split), fresh);
    return fresh;
  }

  private findExact(family: 4 | 6, key: number[], cidr: number): Node<T> | null {
    let node = this.getRoot(family);
    while (node !== null && node.cidr <= cidr && node.matches(key)) {
      if (node.cidr === cidr) return node;
      node = child(node, bitOf(key, node.cidr));
    }
    return null;
  }

  /** Clears a node's value and prunes value-less nodes with fewer than two children. */
  private dropNode(node: Node<T>): void {
    this.byValue.get(node.value as T)?.delete(node);
    node.value = undefined;
    node.hasValue = false;
    let n: Node<T> | null = node;
    while (n !== null && !n.hasValue) {
      const only: Node<T> | null =
        n.child0 !== null && n.child1 !== null ? null : (n.child0 ?? n.child1);
      if (n.child0 !== null && n.child1 !== null) break;
      const p: Node<T> | null = n.parent;
      this.replace(n, only);
      n.parent = null;
      // A childless removal may leave the parent as a pointless one-child junction.
      n = only === null ? p : null;
    }
  }
}

function checkCidr(c: Cidr): void {
  const len = c.family === 4 ? 4 : 16;
  if (c.bytes.length !== len || c.bits < 0 || c.bits > len * 8 || !Number.isInteger(c.bits)) {
    throw new Error(`invalid CIDR for allowed IPs (family ${c.family}, /${c.bits})`);
  }
}
