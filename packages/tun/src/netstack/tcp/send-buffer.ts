/**
 * Bounded send buffer: bytes written by the application and not yet acknowledged, kept in
 * fixed-size blocks so appends, reads at an offset and consumption from the front are O(1)
 * per block and no byte is copied twice (once in on write, once out into a segment).
 */

const BLOCK = 16384;

/**
 * Empty blocks shared by every SendBuffer, at most POOL_MAX: an empty buffer holds no block, so
 * an idle connection costs none (10,000 idle connections that once sent would otherwise pin
 * 16 KiB each), while a busy stack still reuses blocks instead of allocating them. Zeroed on
 * return so one connection's bytes never sit in another's buffer.
 */
const POOL_MAX = 64;
const pool: Uint8Array[] = [];

function takeBlock(): Uint8Array {
  return pool.pop() ?? new Uint8Array(BLOCK);
}

function giveBlock(block: Uint8Array): void {
  if (pool.length < POOL_MAX && block.length === BLOCK) pool.push(block.fill(0));
}

export class SendBuffer {
  private blocks: Uint8Array[] = [];
  /** Index into `blocks` of the first live block. */
  private first = 0;
  /** Offset of the first live byte inside blocks[first]. */
  private headOffset = 0;
  private len = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.len;
  }

  get free(): number {
    return this.capacity - this.len;
  }

  /** Copies as much of `data` as fits; returns the count copied. */
  append(data: Uint8Array): number {
    const n = Math.min(data.length, this.capacity - this.len);
    let done = 0;
    while (done < n) {
      const end = this.headOffset + this.len;
      const blockIndex = this.first + Math.floor(end / BLOCK);
      const inBlock = end % BLOCK;
      if (blockIndex === this.blocks.length) this.blocks.push(takeBlock());
      const take = Math.min(n - done, BLOCK - inBlock);
      this.blocks[blockIndex].set(data.subarray(done, done + take), inBlock);
      done += take;
      this.len += take;
    }
    return n;
  }

  /** Copies `count` bytes starting `offset` bytes after the front into dst[dstOffset…]. */
  copyOut(offset: number, count: number, dst: Uint8Array, dstOffset: number): void {
    let pos = this.headOffset + offset;
    while (count > 0) {
      const block = this.blocks[this.first + Math.floor(pos / BLOCK)];
      const inBlock = pos % BLOCK;
      const take = Math.min(count, BLOCK - inBlock);
      dst.set(block.subarray(inBlock, inBlock + take), dstOffset);
      dstOffset += take;
      pos += take;
      count -= take;
    }
  }

  /** Drops `n` bytes (acknowledged) from the front. */
  consume(n: number): void {
    if (n > this.len) n = this.len;
    this.len -= n;
    this.headOffset += n;
    while (this.headOffset >= BLOCK) {
      giveBlock(this.blocks[this.first]);
      this.blocks[this.first] = EMPTY;
      this.first++;
      this.headOffset -= BLOCK;
    }
    if (this.len === 0) {
      // Empty: hold nothing; the next append starts a block from the pool.
      this.clear();
      return;
    }
    if (this.first > 32 && this.first * 2 > this.blocks.length) {
      this.blocks = this.blocks.slice(this.first);
      this.first = 0;
    }
  }

  /** Blocks held now (16 KiB each): none while empty. */
  get blockCount(): number {
    return this.blocks.length - this.first;
  }

  /** Drops the contents and returns the blocks to the pool. */
  clear(): void {
    for (let i = this.first; i < this.blocks.length; i++) giveBlock(this.blocks[i]);
    this.blocks = [];
    this.first = 0;
    this.headOffset = 0;
    this.len = 0;
  }
}

const EMPTY = new Uint8Array(0);
