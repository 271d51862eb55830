/**
 * Runs a sans-IO NetStack in Node: one timer armed for `nextDeadline()`, and output handed to a
 * sink in batches — everything the stack produced during one synchronous burst of work (a
 * batch of packets in, a socket write) goes out in one call at the end of the microtask.
 */
import type { NetStack } from "../stack.js";
import { now } from "./clock.js";

export class StackDriver {
  readonly stack: NetStack;
  #sink: ((packets: Uint8Array[]) => void) | null = null;
  #flushQueued = false;
  #timer: NodeJS.Timeout | null = null;
  #armedFor: number | null = null;
  #stopped = false;
  /** Exceptions caught from the stack (a bug, never bad input): counted, never thrown at Node. */
  errors = 0;

  constructor(stack: NetStack) {
    this.stack = stack;
    stack.onOutput = () => this.kick();
  }

  /** Where output packets go (the Device's read side); packets produced before are held. */
  setSink(sink: (packets: Uint8Array[]) => void): void {
    this.#sink = sink;
    this.kick();
  }

  /** Feeds a batch of inbound packets, then flushes and re-arms. */
  input(packets: Uint8Array[]): void {
    if (this.#stopped) return;
    const t = now();
    this.stack.beginBatch(t);
    for (const p of packets) {
      try {
        this.stack.input(p, t);
      } catch {
        this.errors++;
      }
    }
    try {
      this.stack.endBatch(t);
    } catch {
      this.errors++;
    }
    this.kick();
  }

  /** Schedules a flush + timer re-arm at the end of the current microtask burst. */
  kick(): void {
    if (this.#flushQueued || this.#stopped) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flush);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#stopped) return;
    if (this.#sink !== null) {
      const out = this.stack.takeOutput();
      if (out.length > 0) this.#sink(out);
    }
    this.#arm();
  };

  #arm(): void {
    const d = this.stack.nextDeadline();
    if (d === this.#armedFor && this.#timer !== null) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = d;
    if (d === null) return;
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(d - now())));
    // The Device's UDP socket (or the application's own handles) keeps the process alive.
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#armedFor = null;
    try {
      this.stack.tick(now());
    } catch {
      this.errors++;
    }
    this.#flush();
  };
}
