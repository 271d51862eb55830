/**
 * Receive buffer: in-order bytes waiting for the application (a queue of views into received
 * segments — no copy on the fast path) and out-of-order ranges waiting for a hole to fill.
 * Positions are stream offsets (bytes since the first data byte), plain numbers that do not wrap;
 * the connection maps sequence numbers to them.
 */

interface Range {
  start: number;
  end: number;
  data: Uint8Array;
}

/** Out-of-order ranges kept at most (a bound on bookkeeping a hostile peer can make us hold). */
export const MAX_OOO_RANGES = 256;
/** Payloads this small are copied so they do not pin a whole packet buffer. */
const COPY_BELOW = 128;

export class RecvBuffer {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private readableBytes = 0;
  private ooo: Range[] = [];
  private oooBytes = 0;
  /** Stream offset of the next in-order byte (RCV.NXT). */
  nextOffset = 0;
  /** Offset of the most recently stored out-of-order range (for the first SACK block). */
  lastOooStart = -1;

  /** `copy`: the caller's segment buffers may be reused, so stored bytes are copied. */
  constructor(private readonly copy: boolean) {}

  get readable(): number {
    return this.readableBytes;
  }

  get outOfOrderBytes(): number {
    return this.oooBytes;
  }

  get outOfOrderRanges(): number {
    return this.ooo.length;
  }

  /**
   * Stores `data` at stream offset `offset` (the caller trimmed it to the window). Returns how
   * far RCV.NXT advanced, or -1 when the out-of-order table is full and the data was dropped.
   */
  push(offset: number, data: Uint8Array): number {
    const before = this.nextOffset;
    if (offset + data.length <= this.nextOffset || data.length === 0) return 0;
    if (offset <= this.nextOffset) {
      const fresh = data.subarray(this.nextOffset - offset);
      this.appendInOrder(this.copy ? fresh.slice() : fresh);
      this.pullContiguous();
      return this.nextOffset - before;
    }
    return this.insertOutOfOrder(offset, data) ? 0 : -1;
  }

  private appendInOrder(data: Uint8Array): void {
    this.chunks.push(data);
    this.readableBytes += data.length;
    this.nextOffset += data.length;
  }

  private pullContiguous(): void {
    let i = 0;
    while (i < this.ooo.length && this.ooo[i].start <= this.nextOffset) {
      const r = this.ooo[i];
      this.oooBytes -= r.end - r.start;
      if (r.end > this.nextOffset) this.appendInOrder(r.data.subarray(this.nextOffset - r.start));
      i++;
    }
    if (i > 0) this.ooo.splice(0, i);
  }

  private insertOutOfOrder(s: number, data: Uint8Array): boolean {
    const e = s + data.length;
    const base = s;
    let i = 0;
    while (i < this.ooo.length && this.ooo[i].end <= s) i++;
    let stored = false;
    while (s < e) {
      const next = this.ooo[i];
      const gapEnd = next === undefined ? e : Math.min(e, next.start);
      if (s < gapEnd) {
        if (this.ooo.length >= MAX_OOO_RANGES) return stored;
        let piece = data.subarray(s - base, gapEnd - base);
        if (this.copy || piece.length < COPY_BELOW) piece = piece.slice();
        this.ooo.splice(i, 0, { start: s, end: gapEnd, data: piece });
        this.oooBytes += gapEnd - s;
        this.lastOooStart = s;
        stored = true;
        i++;
      }
      if (next === undefined) break;
      s = Math.max(s, next.end);
      i++;
    }
    if (!stored) this.lastOooStart = base;
    return true;
  }

  /** Takes up to `max` in-order bytes (one chunk), or null when none are ready. */
  read(max: number): Uint8Array | null {
    if (this.readableBytes === 0) return null;
    const chunk = this.chunks[this.head];
    let out: Uint8Array;
    if (chunk.length <= max) {
      out = chunk;
      this.chunks[this.head] = EMPTY;
      this.head++;
      if (this.head === this.chunks.length) {
        this.chunks = [];
        this.head = 0;
      } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
    } else {
      out = chunk.subarray(0, max);
      this.chunks[this.head] = chunk.subarray(max);
    }
    this.readableBytes -= out.length;
    return out;
  }

  /**
   * Out-of-order ranges as stream offsets [start, end) merged where adjacent, the one holding
   * `lastOooStart` first (RFC 2018 §4), at most `max` of them, written to `out`; returns the count.
   */
  sackRanges(out: number[], max: number): number {
    out.length = 0;
    let n = 0;
    let firstIdx = -1;
    const merged: number[] = [];
    for (const r of this.ooo) {
      const m = merged.length;
      if (m > 0 && merged[m - 1] === r.start) merged[m - 1] = r.end;
      else merged.push(r.start, r.end);
      if (
        r.start === this.lastOooStart ||
        (r.start < this.lastOooStart && r.end > this.lastOooStart)
      )
        firstIdx = merged.length - 2;
    }
    if (firstIdx >= 0) {
      out.push(merged[firstIdx], merged[firstIdx + 1]);
      n++;
    }
    for (let k = merged.length - 2; k >= 0 && n < max; k -= 2) {
      if (k === firstIdx) continue;
      out.push(merged[k], merged[k + 1]);
      n++;
    }
    return n;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.readableBytes = 0;
    this.ooo = [];
    this.oooBytes = 0;
  }
}

const EMPTY = new Uint8Array(0);
