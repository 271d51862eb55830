/**
 * Which peers a reconcile pass visits (peer-reconciler.ts): the ones marked dirty (spec changed,
 * a Device event about the peer, configuration refused) and the ones whose own deadline has
 * come — the next moment its status can change or a probe, keepalive or handshake is due. The
 * deadlines sit in a min-heap (flatqueue) with lazy invalidation: a moved deadline leaves its old
 * heap entry behind, recognised as stale by {@link deadlineOf} when it surfaces; nothing is
 * searched or removed from the middle. A pass therefore costs the peers it has to look at, not
 * every peer of the mesh.
 */
import FlatQueue from "flatqueue";

export class PeerAgenda {
  private readonly dirty = new Set<string>();
  /** Every peer's current deadline (ms); the heap may hold stale entries, this map is the truth. */
  private readonly deadlineOf = new Map<string, number>();
  private readonly heap = new FlatQueue<string>();

  /** Visit this peer on the next pass whatever its deadline. */
  markDirty(key: string): void {
    this.dirty.add(key);
  }

  /** Files the peer under `at` (Infinity: no deadline of its own). */
  schedule(key: string, at: number): void {
    if (this.deadlineOf.get(key) === at) return;
    if (at === Infinity) {
      this.deadlineOf.delete(key);
      return;
    }
    this.deadlineOf.set(key, at);
    this.heap.push(key, at);
  }

  /** Forgets the peer (its stale heap entry is skipped when it surfaces). */
  drop(key: string): void {
    this.deadlineOf.delete(key);
    this.dirty.delete(key);
  }

  /** The dirty peers and those whose deadline is at or before `now`, each once; both cleared. */
  take(now: number): Set<string> {
    const due = new Set(this.dirty);
    this.dirty.clear();
    for (;;) {
      const at = this.heap.peekValue();
      if (at === undefined || at > now) break;
      const key = this.heap.pop() as string;
      if (this.deadlineOf.get(key) !== at) continue; // stale: moved or dropped since
      this.deadlineOf.delete(key);
      due.add(key);
    }
    return due;
  }

  /** The earliest deadline, `now` when a peer is dirty, undefined when there is none. */
  next(now: number): number | undefined {
    if (this.dirty.size > 0) return now;
    for (;;) {
      const at = this.heap.peekValue();
      if (at === undefined) return undefined;
      if (this.deadlineOf.get(this.heap.peek() as string) === at) return at;
      this.heap.pop(); // stale
    }
  }
}
