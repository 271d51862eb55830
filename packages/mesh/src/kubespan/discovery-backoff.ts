/**
 * Reconnect backoff of the discovery client (reference/kubespan.md §1.7): Talos's client uses
 * cenkalti/backoff's exponential backoff — a first delay, a growth factor, a cap, and each delay
 * drawn at random around its nominal value so a cluster restarting together does not reconnect
 * in lock step.
 */

export interface BackoffOptions {
  /** First retry delay (cenkalti/backoff default 500 ms). */
  readonly initialMs: number;
  /** Growth per failure (cenkalti default 1.5). */
  readonly multiplier: number;
  /** Cap on one delay. */
  readonly maxMs: number;
  /** Randomisation factor: the delay is drawn from ±jitter around the nominal value (0.5). */
  readonly jitter: number;
}

export const DefaultBackoff: BackoffOptions = {
  initialMs: 500,
  multiplier: 1.5,
  maxMs: 30_000,
  jitter: 0.5,
};

/** The nominal delay after `previousMs` (0 = first retry): exponential growth, capped. */
export function nextBackoffMs(previousMs: number, b: BackoffOptions): number {
  return previousMs === 0 ? b.initialMs : Math.min(b.maxMs, previousMs * b.multiplier);
}

/** A delay drawn uniformly from nominal·(1 ± jitter), like cenkalti/backoff's randomisation. */
export function jitteredMs(nominalMs: number, jitter: number, random = Math.random): number {
  const spread = nominalMs * jitter;
  return Math.max(0, nominalMs - spread + random() * 2 * spread);
}

/** The backoff state of one connection loop: grows per failure, resets on success. */
export class Backoff {
  private nominalMs = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt (jittered), growing the nominal value. */
  next(): number {
    this.nominalMs = nextBackoffMs(this.nominalMs, this.options);
    return jitteredMs(this.nominalMs, this.options.jitter);
  }

  /** After a success (or a redirect): the next failure waits the initial delay again. */
  reset(): void {
    this.nominalMs = 0;
  }
}
