/**
 * Binary min-heap of (deadline, item) for the layer's single next deadline. Entries are lazy:
 * an item whose deadline moved later keeps its old entry, which pops early and is rescheduled;
 * nothing is ever searched or removed from the middle.
 */
export class TimerHeap<T> {
  private readonly at: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.at.length;
  }

  push(deadline: number, item: T): void {
    const at = this.at;
    const items = this.items;
    let i = at.length;
    at.push(deadline);
    items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[p] <= deadline) break;
      at[i] = at[p];
      items[i] = items[p];
      i = p;
    }
    at[i] = deadline;
    items[i] = item;
  }

  /** Earliest deadline, or undefined when empty. */
  peek(): number | undefined {
    return this.at.length === 0 ? undefined : this.at[0];
  }

  /** Removes the earliest entry and returns its item. */
  pop(): T | undefined {
    const at = this.at;
    const items = this.items;
    if (at.length === 0) return undefined;
    const top = items[0];
    const lastAt = at.pop() as number;
    const lastItem = items.pop() as T;
    const n = at.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && at[r] < at[l] ? r : l;
        if (at[m] >= lastAt) break;
        at[i] = at[m];
        items[i] = items[m];
        i = m;
      }
      at[i] = lastAt;
      items[i] = lastItem;
    }
    return top;
  }
}
