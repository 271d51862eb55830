/**
 * The checks that run all the time during the soak (the resource trend and the cleartext
 * inspection have their own files; the soak wires them up):
 *
 * - recovery: after a fault heals, every pair of live nodes must be up again within
 *   {@link RecoveryDeadlineMs} — both nodes report each other `up` AND pings between them (both
 *   ways) are answered again AND every TCP stream delivers again, so a mesh that calls itself up
 *   but carries nothing (or only small packets) fails too;
 * - no false down: a node must never report a peer `down` unless the fault in progress cut one
 *   of the two off (its target); faults that do not cut the data path (schedule.ts
 *   NonDisruptive) exempt nobody;
 * - no unexpected death: a mesh process that exits without the schedule killing it.
 */
import type { SoakMesh } from "./mesh.js";
import type { Timeline } from "./timeline.js";
import type { Traffic } from "./traffic.js";

/** Issue #13: every pair of live nodes is up again within 60 s of a fault healing. */
export const RecoveryDeadlineMs = 60_000;

export interface Recovery {
  /** ms from the heal until all pairs reported each other up. */
  readonly statusMs: number;
  /** ms from the heal until every ordered pair's ping had an answer and every stream moved. */
  readonly trafficMs: number;
}

/** Pairs of live nodes not yet both `up` and answering pings since `since` (performance.now). */
async function pending(
  mesh: SoakMesh,
  traffic: Traffic,
  since: number,
): Promise<{ status: string[]; traffic: string[] }> {
  const live = mesh.live();
  const status: string[] = [];
  const ping: string[] = [];
  const views = new Map(
    await Promise.all(live.map(async (i) => [i, await mesh.states(i)] as const)),
  );
  for (const a of live) {
    for (const b of live) {
      if (a === b) continue;
      const s = views.get(a)?.get(`node-${b}`) ?? "no answer";
      if (s !== "up") status.push(`${a}→${b} ${s}`);
      if (traffic.lastReplyAt(a, b) <= since) ping.push(`ping ${a}→${b}`);
    }
  }
  for (const st of traffic.streams) {
    if (st.lastProgressAt <= since) ping.push(`tcp stream ${st.from}→${st.to}`);
  }
  return { status, traffic: ping };
}

/**
 * Waits until every pair of live nodes is up and carries pings, measured from `healedAt`
 * (performance.now). Resolves with the times, or with what was still missing at the deadline.
 */
export async function awaitRecovery(
  mesh: SoakMesh,
  traffic: Traffic,
  healedAt: number,
  deadlineMs = RecoveryDeadlineMs,
): Promise<Recovery | { missing: string }> {
  let statusAt: number | null = null;
  for (;;) {
    const p = await pending(mesh, traffic, healedAt);
    const now = performance.now();
    if (p.status.length === 0) statusAt ??= now;
    else statusAt = null;
    if (statusAt !== null && p.traffic.length === 0) {
      return { statusMs: statusAt - healedAt, trafficMs: now - healedAt };
    }
    if (now - healedAt > deadlineMs) {
      const parts = [];
      if (p.status.length) parts.push(`not up: ${p.status.join(", ")}`);
      if (p.traffic.length) parts.push(`no traffic: ${p.traffic.join(", ")}`);
      return { missing: parts.join("; ") };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Polls every live node's peer statuses once a second and records a failure whenever a node
 * reports a peer `down` that no fault excuses.
 */
export class DownWatch {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly reported = new Set<string>();
  /** Nodes the fault in progress may cut off (their pairs may go down). */
  exempt = new Set<number>();
  /** Context for the failure text (the fault in progress). */
  context = "steady state";

  constructor(
    private readonly mesh: SoakMesh,
    private readonly timeline: Timeline,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), 1_000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const a of this.mesh.live()) {
        const states = await this.mesh.states(a);
        if (!states) continue;
        for (const b of this.mesh.live()) {
          if (a === b || this.exempt.has(a) || this.exempt.has(b)) continue;
          if (states.get(`node-${b}`) !== "down") continue;
          const key = `${a}→${b} ${this.context}`;
          if (this.reported.has(key)) continue;
          this.reported.add(key);
          this.timeline.add("fail", `node-${a} reports live node-${b} down (${this.context})`);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
