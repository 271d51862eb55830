/**
 * Receiver indices (whitepaper §5.4.2: "sender index", random 32-bit): one table maps our
 * indices to the handshake or keypair they belong to. Indices come from the injected RNG and
 * are collision-checked (as wireguard-go's IndexTable); 0 is never handed out so that it can
 * mean "none".
 */
import type { Keypair } from "./keypair.js";

export interface IndexEntry<P> {
  readonly peer: P;
  /** Set once the handshake under this index derived a keypair. */
  keypair: Keypair | null;
}

export class IndexTable<P> {
  private readonly map = new Map<number, IndexEntry<P>>();

  constructor(private readonly random: (n: number) => Uint8Array) {}

  get size(): number {
    return this.map.size;
  }

  /** A fresh unused index for a handshake of `peer`. */
  newIndex(peer: P): number {
    for (;;) {
      const b = this.random(4);
      const index = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      if (index === 0 || this.map.has(index)) continue;
      this.map.set(index, { peer, keypair: null });
      return index;
    }
  }

  /** Moves an index from its handshake to the keypair derived from it. */
  setKeypair(index: number, keypair: Keypair): void {
    const e = this.map.get(index);
    if (e !== undefined) e.keypair = keypair;
  }

  get(index: number): IndexEntry<P> | undefined {
    return this.map.get(index);
  }

  delete(index: number): void {
    if (index !== 0) this.map.delete(index);
  }

  clear(): void {
    this.map.clear();
  }
}
