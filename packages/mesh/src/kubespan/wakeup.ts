/**
 * A one-shot wake-up: `wait(ms)` resolves on `notify()` (false) or after `ms` (true). Callers
 * learn that the time passed from the timer itself, not by comparing clock readings, which an
 * NTP step can make lie.
 */
export class Wakeup {
  private resolve: (() => void) | null = null;
  private pending = false;

  notify(): void {
    this.pending = true;
    const r = this.resolve;
    this.resolve = null;
    r?.();
  }

  /** Resolves true when `ms` passed, false when notified first. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = null;
        resolve(true);
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve(false);
      };
    });
  }
}
