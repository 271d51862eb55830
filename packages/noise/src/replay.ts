/**
 * Anti-replay sliding window for transport counters (RFC 6479), sized as WireGuard's:
 * a ring of 128 blocks of 64 bits, of which one block is always the "current" partially
 * filled one, so the usable window is 127 × 64 = 8128 counters (reference §1.1 "Replay
 * window"; whitepaper §5.4.6). It runs after successful decryption, once per packet, so
 * the common path does no bigint arithmetic: counters below 2^53 are handled as numbers.
 */

/** Bits per ring block. */
const BLOCK_BITS = 64;
/** Blocks in the ring (a power of two, so the index is a mask). */
const RING_BLOCKS = 128;
const RING_MASK = RING_BLOCKS - 1;
/** Counters this far behind the newest one are still accepted once: 127 × 64 = 8128. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const RING_BLOCKS_BIG = BigInt(RING_BLOCKS);
const RING_MASK_BIG = BigInt(RING_MASK);
const WINDOW_BIG = BigInt(REPLAY_WINDOW_SIZE);

export class ReplayWindow {
  /** Ring bitmap: block b is words[2b] (bits 0..31) and words[2b+1] (bits 32..63). */
  private readonly words = new Uint32Array(RING_BLOCKS * 2);
  /** Highest counter accepted so far (exact). */
  private last = 0n;
  /** `last` as a number; exact whenever `last <= MAX_SAFE_INTEGER`. */
  private lastNum = 0;

  reset(): void {
    this.words.fill(0);
    this.last = 0n;
    this.lastNum = 0;
  }

  /** Validates `counter` after successful decryption and marks it seen; false if replayed, too old, or ≥ limit. */
  check(counter: bigint, limit: bigint): boolean {
    if (counter >= limit || counter < 0n) return false;
    if (counter <= MAX_SAFE && this.last <= MAX_SAFE) return this.checkSmall(counter);
    return this.checkBig(counter);
  }

  /** Both counter and last fit in a double exactly: number arithmetic only. */
  private checkSmall(counter: bigint): boolean {
    const c = Number(counter);
    let block = Math.floor(c / BLOCK_BITS);
    if (c > this.lastNum) {
      // Moving forward: clear the blocks the window slides over (at most the whole ring).
      const current = Math.floor(this.lastNum / BLOCK_BITS);
      const diff = Math.min(block - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) this.clearBlock((current + i) & RING_MASK);
      this.last = counter;
      this.lastNum = c;
    } else if (this.lastNum - c > REPLAY_WINDOW_SIZE) {
      return false;
    }
    block &= RING_MASK;
    return this.testAndSet(block, c % BLOCK_BITS);
  }

  /** Rare path for counters at or beyond 2^53 (only near REJECT_AFTER_MESSAGES in practice). */
  private checkBig(counter: bigint): boolean {
    const block = counter >> 6n;
    if (counter > this.last) {
      const current = this.last >> 6n;
      let diff = block - current;
      if (diff > RING_BLOCKS_BIG) diff = RING_BLOCKS_BIG;
      const start = Number(current & RING_MASK_BIG);
      const n = Number(diff);
      for (let i = 1; i <= n; i++) this.clearBlock((start + i) & RING_MASK);
      this.last = counter;
      this.lastNum = Number(counter);
    } else if (this.last - counter > WINDOW_BIG) {
      return false;
    }
    return this.testAndSet(Number(block & RING_MASK_BIG), Number(counter & 63n));
  }

  private clearBlock(block: number): void {
    this.words[block * 2] = 0;
    this.words[block * 2 + 1] = 0;
  }

  /** Sets bit `bit` (0..63) of `block`; true if it was clear (first time this counter is seen). */
  private testAndSet(block: number, bit: number): boolean {
    const index = block * 2 + (bit >= 32 ? 1 : 0);
    const mask = (1 << (bit & 31)) >>> 0;
    const word = this.words[index];
    if ((word & mask) !== 0) return false;
    this.words[index] = (word | mask) >>> 0;
    return true;
  }
}
