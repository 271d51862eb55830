/**
 * Test support: two TCP layers joined by an in-memory link with a fake clock and a seeded
 * channel that loses, duplicates and reorders (by jitter) segments — deterministic per seed.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { TcpLayer } from "../../src/netstack/tcp/index.js";
import type { TcpLayerOptions } from "../../src/netstack/tcp/types.js";

/** A seeded PRNG in [0, 1) (pure-rand's xoroshiro128+). */
export function prng(seed: number): () => number {
  const g = xoroshiro128plus(seed);
  return () => uniformInt(g, 0, 0xffffffff) / 4294967296;
}

export function seededBytes(rand: () => number): (n: number) => Uint8Array {
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

export interface ChannelOptions {
  loss?: number;
  duplicate?: number;
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs): reorders segments. */
  jitterMs?: number;
}

interface InFlight {
  at: number;
  seq: number;
  to: "a" | "b";
  src: Uint8Array;
  dst: Uint8Array;
  segment: Uint8Array;
}

export const ADDR_A = Uint8Array.of(198, 19, 0, 1);
export const ADDR_B = Uint8Array.of(198, 19, 0, 2);

export class Link {
  now = 1000;
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  readonly rand: () => number;
  private q: InFlight[] = [];
  private n = 0;
  /** Segments put on the wire per direction, and how many the channel dropped. */
  sent = { a: 0, b: 0 };
  lost = 0;
  /** Optional tap: return false to drop a segment (tests inject or filter). */
  filter: ((to: "a" | "b", segment: Uint8Array) => boolean) | undefined;
  channel: ChannelOptions;

  constructor(
    seed: number,
    channel: ChannelOptions = {},
    layerOpts: Partial<TcpLayerOptions> = {},
    layerOptsB: Partial<TcpLayerOptions> = layerOpts,
  ) {
    this.rand = prng(seed);
    this.channel = channel;
    const random = seededBytes(this.rand);
    const mk = (me: "a" | "b", o: Partial<TcpLayerOptions>) =>
      new TcpLayer({
        random,
        clock: () => this.now,
        ...o,
        output: (src, dst, segment) => this.send(me === "a" ? "b" : "a", src, dst, segment),
      });
    this.a = mk("a", layerOpts);
    this.b = mk("b", layerOptsB);
  }

  private send(to: "a" | "b", src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void {
    this.sent[to === "a" ? "b" : "a"]++;
    if (this.filter !== undefined && !this.filter(to, segment)) return;
    const c = this.channel;
    if (c.loss !== undefined && this.rand() < c.loss) {
      this.lost++;
      return;
    }
    const copies = c.duplicate !== undefined && this.rand() < c.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.now + (c.delayMs ?? 1) + (c.jitterMs ? this.rand() * c.jitterMs : 0);
      this.push({ at, seq: this.n++, to, src: src.slice(), dst: dst.slice(), segment });
    }
  }

  /** Injects a raw segment to a layer at the current time (hostile-input tests). */
  inject(to: "a" | "b", segment: Uint8Array, src = to === "a" ? ADDR_B : ADDR_A): void {
    const dst = to === "a" ? ADDR_A : ADDR_B;
    (to === "a" ? this.a : this.b).input(src, dst, segment, this.now);
  }

  private push(p: InFlight): void {
    // Sorted insert from the back (most arrivals are late).
    const q = this.q;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > p.at || (q[i - 1].at === p.at && q[i - 1].seq > p.seq))) i--;
    q.splice(i, 0, p);
  }

  get inFlight(): number {
    return this.q.length;
  }

  /** Advances to the next event (a delivery or a timer); false when nothing is pending. */
  step(limit: number): boolean {
    let t = this.q.length > 0 ? this.q[0].at : Number.POSITIVE_INFINITY;
    const da = this.a.nextDeadline();
    const db = this.b.nextDeadline();
    if (da !== undefined && da < t) t = da;
    if (db !== undefined && db < t) t = db;
    if (t === Number.POSITIVE_INFINITY || t > limit) return false;
    if (t > this.now) this.now = t;
    while (this.q.length > 0 && this.q[0].at <= this.now) {
      const p = this.q.shift() as InFlight;
      (p.to === "a" ? this.a : this.b).input(p.src, p.dst, p.segment, this.now);
    }
    this.a.tick(this.now);
    this.b.tick(this.now);
    return true;
  }

  /** Runs until `done()` or `maxMs` of virtual time passed; returns whether `done()` held. */
  run(done: () => boolean, maxMs = 600_000): boolean {
    const limit = this.now + maxMs;
    while (!done()) {
      if (!this.step(limit)) {
        this.now = Math.max(this.now, Math.min(limit, this.now));
        return done();
      }
    }
    return true;
  }

  /** Lets virtual time pass (deliveries and timers happen). */
  advance(ms: number): void {
    const limit = this.now + ms;
    while (this.step(limit)) {
      /* keep going */
    }
    this.now = limit;
    this.a.tick(this.now);
    this.b.tick(this.now);
  }
}
