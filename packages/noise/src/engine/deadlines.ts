/**
 * The peers ordered by their earliest timer deadline, so that the Engine's per-turn work grows
 * with what changed, not with the number of peers (issue #13 item 4: `nextDeadline()` used to
 * scan and allocate per peer after every receive batch).
 *
 * A binary min-heap of (deadline, peer) with lazy deletion: a peer whose timers change is marked
 * dirty (PeerTimers calls back); the next query re-reads only the dirty peers, pushing an entry
 * when a deadline moved earlier. Entries that no longer match their peer are dropped when they
 * reach the top, and one that became later is pushed again with the new deadline, so the heap
 * holds at most about one live and a few stale entries per peer.
 */
import type { Peer } from "../peer.js";

interface Entry {
  readonly at: number;
  readonly peer: Peer;
}

export class Deadlines {
  private readonly heap: Entry[] = [];
  private dirty: Peer[] = [];
  /** The deadline each peer's newest heap entry carries (absent: none in the heap). */
  private readonly inHeap = new Map<Peer, number>();

  /** A peer's timers changed (or it was added or removed). */
  touch(peer: Peer): void {
    if (peer.timersDirty) return;
    peer.timersDirty = true;
    this.dirty.push(peer);
  }

  /** The earliest deadline over all peers, or null. */
  next(): number | null {
    this.refresh();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return null;
      const actual = this.current(top);
      if (actual === top.at) return top.at;
      this.pop();
      if (actual !== null) this.push(top.peer, actual);
    }
  }

  /** Removes and returns the peers whose earliest deadline is ≤ now (each once). */
  due(now: number): Peer[] {
    this.refresh();
    const out: Peer[] = [];
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) return out;
      this.pop();
      const actual = this.current(top);
      if (actual === null) continue;
      if (actual > now) {
        this.push(top.peer, actual);
        continue;
      }
      this.inHeap.delete(top.peer);
      out.push(top.peer);
      // Running its timers changes them: the peer comes back through touch().
      this.touch(top.peer);
    }
  }

  /** The peer's deadline if `e` is its newest entry, else null (stale: drop it). */
  private current(e: Entry): number | null {
    if (e.peer.removed || this.inHeap.get(e.peer) !== e.at) return null;
    const actual = e.peer.timers.earliest();
    if (actual === null) this.inHeap.delete(e.peer);
    return actual;
  }

  private refresh(): void {
    const dirty = this.dirty;
    if (dirty.length === 0) return;
    this.dirty = [];
    for (const peer of dirty) {
      peer.timersDirty = false;
      if (peer.removed) {
        this.inHeap.delete(peer);
        continue;
      }
      const at = peer.timers.earliest();
      const held = this.inHeap.get(peer);
      // A later deadline keeps the earlier entry; it is re-pushed when it surfaces.
      if (at !== null && (held === undefined || at < held)) this.push(peer, at);
    }
  }

  private push(peer: Peer, at: number): void {
    this.inHeap.set(peer, at);
    const h = this.heap;
    h.push({ at, peer });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at <= h[i].at) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}
