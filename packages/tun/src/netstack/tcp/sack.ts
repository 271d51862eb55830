/**
 * Sender-side SACK scoreboard (RFC 2018, RFC 6675 §2–4). Ranges are send-stream offsets
 * (bytes since the first data byte, non-wrapping), kept sorted and merged.
 */

/** RFC 6675 DupThresh. */
export const DUP_THRESH = 3;
/** Ranges kept at most; a hostile receiver cannot make the table grow beyond it. */
const MAX_RANGES = 64;

export class SackScoreboard {
  /** [start0, end0, start1, end1, …], sorted, non-overlapping, non-adjacent. */
  private r: number[] = [];
  private sacked = 0;

  get sackedBytes(): number {
    return this.sacked;
  }

  get empty(): boolean {
    return this.r.length === 0;
  }

  /** Highest SACKed offset (exclusive), or -1. */
  get highest(): number {
    return this.r.length === 0 ? -1 : this.r[this.r.length - 1];
  }

  clear(): void {
    this.r = [];
    this.sacked = 0;
  }

  /** Records [start, end) as SACKed; returns true if it added new bytes. */
  add(start: number, end: number): boolean {
    if (end <= start) return false;
    const r = this.r;
    let i = 0;
    while (i < r.length && r[i + 1] < start) i += 2;
    // Merge with every range overlapping or adjacent to [start, end).
    let j = i;
    let s = start;
    let e = end;
    let covered = 0;
    while (j < r.length && r[j] <= e) {
      s = Math.min(s, r[j]);
      e = Math.max(e, r[j + 1]);
      covered += r[j + 1] - r[j];
      j += 2;
    }
    const added = e - s - covered;
    if (added <= 0) return false;
    if (j === i && r.length >= 2 * MAX_RANGES) return false;
    r.splice(i, j - i, s, e);
    this.sacked += added;
    return true;
  }

  /** Cumulative ACK up to `una`: forget everything below it. */
  ackTo(una: number): void {
    const r = this.r;
    let i = 0;
    while (i < r.length && r[i + 1] <= una) {
      this.sacked -= r[i + 1] - r[i];
      i += 2;
    }
    if (i > 0) r.splice(0, i);
    if (r.length > 0 && r[0] < una) {
      this.sacked -= una - r[0];
      r[0] = una;
    }
  }

  /** End of the SACKed range containing `off`, or `off` itself when it is not SACKed. */
  skipSacked(off: number): number {
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] > off) break;
      if (off < r[i + 1]) return r[i + 1];
    }
    return off;
  }

  /** Start of the first SACKed range above `off` (the end of the hole at `off`), or Infinity. */
  nextSackedAbove(off: number): number {
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) if (r[i] > off) return r[i];
    return Number.POSITIVE_INFINITY;
  }

  /**
   * RFC 6675 IsLost as an edge: un-SACKed bytes below the returned offset are lost (DupThresh
   * discontiguous SACKed ranges above them, or more than (DupThresh−1)·SMSS SACKed bytes).
   */
  lossEdge(mss: number): number {
    const r = this.r;
    let bytes = 0;
    let count = 0;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      bytes += r[i + 1] - r[i];
      count++;
      if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return r[i];
    }
    return -1;
  }

  /** Un-SACKed bytes in [from, to). */
  holesBetween(from: number, to: number): number {
    if (to <= from) return 0;
    let holes = to - from;
    const r = this.r;
    for (let i = 0; i < r.length; i += 2) {
      const s = Math.max(r[i], from);
      const e = Math.min(r[i + 1], to);
      if (e > s) holes -= e - s;
    }
    return holes;
  }
}
