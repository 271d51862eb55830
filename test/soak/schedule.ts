/**
 * The soak's fault schedule: a seeded, reproducible list of faults. The same seed and run length
 * always give the same faults in the same order with the same targets and parameters; only the
 * wall-clock moments differ, because each fault starts once the previous one has recovered
 * (faults never overlap, so every recovery is measured against one heal).
 *
 * The first faults are one of each kind in a seeded order, so even a short run (CI's 3 minutes)
 * exercises every kind; later ones are drawn at random. Long runs (≥ 10 minutes) also draw holds
 * long enough for peers to be declared down (the probe needs ≤ 54 s), so the down → up paths and
 * endpoint cycling are soaked too; short runs keep holds short to fit every kind.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

export const FaultKinds = [
  "kill",
  "discovery-restart",
  "link-flap",
  "roam",
  "mtu",
  "loss",
  "clock-step",
] as const;
export type FaultKind = (typeof FaultKinds)[number];

/**
 * Faults after which no live pair may ever be reported down: the data path between the nodes is
 * never cut (discovery is only the rendezvous; a clock step must not move monotonic durations; a
 * smaller MTU still carries handshakes and probes).
 */
export const NonDisruptive: ReadonlySet<FaultKind> = new Set([
  "discovery-restart",
  "mtu",
  "clock-step",
]);

export interface Fault {
  /** 1-based position in the schedule. */
  readonly id: number;
  readonly kind: FaultKind;
  /** Target node (1-based); 0 for the discovery service. */
  readonly node: number;
  /** How long the fault lasts before it is healed, ms (0 = a one-off change such as roaming). */
  readonly holdMs: number;
  /** Quiet time before the fault starts, ms. */
  readonly gapMs: number;
  /** loss: percent dropped; clock-step: step in seconds (signed); mtu: the new MTU. */
  readonly amount: number;
  /** mtu: which interface ("tun" = the mesh interface, "underlay" = the node's veth). */
  readonly where?: "tun" | "underlay";
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly minutes: number;
  /** Faults to draw (the runner stops early when its time is up). */
  readonly count?: number;
}

export function makeSchedule(opts: ScheduleOptions): Fault[] {
  const rng = xoroshiro128plus(opts.seed);
  const int = (lo: number, hi: number) => uniformInt(rng, lo, hi);
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const long = opts.minutes >= 10;
  // Seconds; long runs may hold a node cut off past the probe's down detection (≤ 54 s).
  const cut = (lo: number) => int(lo, long ? 90 : 12) * 1000;
  const kinds: FaultKind[] = [...FaultKinds];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = int(0, i);
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  const count = opts.count ?? Math.max(kinds.length, opts.minutes * 4);
  const faults: Fault[] = [];
  for (let id = 1; id <= count; id++) {
    const kind = id <= kinds.length ? kinds[id - 1] : pick(FaultKinds);
    const node = kind === "discovery-restart" ? 0 : int(1, opts.nodes);
    const gapMs = int(2, 5) * 1000;
    const base = { id, kind, node, gapMs };
    switch (kind) {
      case "kill":
        faults.push({ ...base, holdMs: cut(3), amount: 0 });
        break;
      case "discovery-restart":
        faults.push({ ...base, holdMs: int(2, long ? 60 : 8) * 1000, amount: 0 });
        break;
      case "link-flap":
        faults.push({ ...base, holdMs: cut(3), amount: 0 });
        break;
      case "roam":
        faults.push({ ...base, holdMs: 0, amount: 0 });
        break;
      case "mtu": {
        const where = pick(["tun", "underlay"] as const);
        // The mesh interface down to IPv6's minimum; the underlay below what a full-size
        // encrypted packet needs (1420 + 80), so the kernel must fragment it.
        const amount = where === "tun" ? 1280 : int(1300, 1450);
        faults.push({ ...base, holdMs: int(5, long ? 60 : 10) * 1000, amount, where });
        break;
      }
      case "loss":
        faults.push({ ...base, holdMs: cut(3), amount: pick([30, 60, 100]) });
        break;
      case "clock-step": {
        // An NTP-sized step either way: minutes to hours.
        const seconds = int(5, 7200) * (int(0, 1) === 0 ? -1 : 1);
        faults.push({ ...base, holdMs: int(5, long ? 60 : 10) * 1000, amount: seconds });
        break;
      }
    }
  }
  return faults;
}

/** One line describing a fault, for the timeline. */
export function describeFault(f: Fault): string {
  const who = f.node === 0 ? "discovery" : `node-${f.node}`;
  const hold = f.holdMs > 0 ? ` for ${f.holdMs / 1000} s` : "";
  switch (f.kind) {
    case "loss":
      return `loss ${f.amount}% on ${who}${hold}`;
    case "clock-step":
      return `clock-step ${f.amount > 0 ? "+" : ""}${f.amount} s on ${who}${hold}`;
    case "mtu":
      return `mtu ${f.where} ${f.amount} on ${who}${hold}`;
    default:
      return `${f.kind} ${who}${hold}`;
  }
}
