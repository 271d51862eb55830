/** The once-only "this device is closed" notification that every TunDevice gives. */
export class CloseSignal {
  #handlers: Array<(reason: Error | null) => void> = [];
  #closed = false;
  #reason: Error | null = null;

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a listener; one added after the close is called with the reason in a microtask. */
  listen(handler: (reason: Error | null) => void): void {
    if (this.#closed) {
      const reason = this.#reason;
      queueMicrotask(() => handler(reason));
    } else {
      this.#handlers.push(handler);
    }
  }

  /**
   * Closes once: marks the device closed (so re-entrant calls from `release` see it), runs
   * `release`, then calls every listener. Later calls do nothing.
   */
  fire(reason: Error | null, release: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reason = reason;
    release();
    const handlers = this.#handlers;
    this.#handlers = [];
    for (const h of handlers) h(reason);
  }
}
