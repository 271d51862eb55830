/**
 * When the mesh controller runs a reconcile pass (reference/kubespan.md §4.2): soon after any
 * input changes ({@link schedule}, coalesced), and at one timer set to the earliest moment some
 * peer's state can change ({@link arm}). Passes never overlap: each waits for the one before.
 */
export class PassScheduler {
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private queued = false;
  private running: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number,
  ) {}

  /** Runs a pass soon (coalesced with other requests made before it starts). */
  schedule(): void {
    if (this.closed || this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.running = this.running.then(() => this.pass()).catch(this.onError);
    });
  }

  /** Sets the one timer to `at` (keeps an earlier one still pending). */
  arm(at: number, now: number): void {
    if (this.closed) return;
    if (this.timer !== null && this.timerAt <= at && this.timerAt > now) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.schedule();
      },
      Math.max(0, at - this.now()),
    );
  }

  /** Runs a pass now and waits for it. */
  async runNow(): Promise<void> {
    this.schedule();
    await new Promise((r) => setImmediate(r));
    await this.running;
  }

  /** No more passes; waits for the running one. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running.catch(() => {});
  }
}
