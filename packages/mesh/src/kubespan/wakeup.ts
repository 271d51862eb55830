/** A one-shot wake-up: `wait(ms)` resolves on `notify()` or after `ms`. */
export class Wakeup {
  private resolve: (() => void) | null = null;
  private pending = false;

  notify(): void {
    this.pending = true;
    const r = this.resolve;
    this.resolve = null;
    r?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = null;
        resolve();
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve();
      };
    });
  }
}
