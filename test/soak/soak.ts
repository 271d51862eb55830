/**
 * The soak: a mesh of real `wirespan up` daemons in network namespaces (mesh.ts) under
 * continuous traffic (traffic.ts) while the seeded schedule (schedule.ts) injects faults one at
 * a time (faults.ts), each healed and then waited for. Checked all the time (checks.ts,
 * cleartext.ts, resources.ts): recovery within 60 s of every heal, no peer reported down that no
 * fault excuses, nothing but WireGuard between node addresses on the bridge, no mesh process
 * dying unless killed, RSS and descriptors without a growth trend. Everything is written to the
 * timeline (timeline.ts); the same seed replays the same faults.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Bridge } from "../support/mesh-netns.js";
import type { Daemon } from "../support/netns.js";
import { captureBridge, pcapFile } from "./capture.js";
import { awaitRecovery, DownWatch } from "./checks.js";
import { inspectFrame } from "./cleartext.js";
import { checkClockStep, findLibfaketime } from "./clock.js";
import { inject } from "./faults.js";
import { MeshPort, type MeshProcess, SoakMesh } from "./mesh.js";
import { describeVerdict, judge, ResourceSampler } from "./resources.js";
import { describeFault, type Fault, FaultKinds, makeSchedule, NonDisruptive } from "./schedule.js";
import { Timeline, type TimelineEvent } from "./timeline.js";
import { PingMarker, Traffic } from "./traffic.js";
import { StreamMarker } from "./traffic-stream.js";

export interface SoakOptions {
  readonly minutes: number;
  readonly seed: number;
  readonly nodes?: number;
  /** Where to write every daemon's output and the timeline (always on failure if given). */
  readonly logDir?: string;
  readonly print?: (line: string) => void;
}

export interface SoakResult {
  readonly seed: number;
  readonly minutes: number;
  readonly faults: number;
  readonly failures: TimelineEvent[];
  readonly timeline: Timeline;
}

const SampleEveryMs = 5_000;
const DiscoveryPort = 3000;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const timeline = new Timeline(opts.print);
  const mesh = new SoakMesh(opts.nodes ?? 5);
  const traffic = new Traffic(mesh);
  const sampler = new ResourceSampler();
  const watch = new DownWatch(mesh, timeline);
  const expected = new WeakSet<Daemon>();
  const finished: MeshProcess[] = [];
  const schedule = makeSchedule({
    seed: opts.seed,
    nodes: mesh.nodes.length,
    minutes: opts.minutes,
  });
  const rules = {
    markers: [PingMarker, StreamMarker],
    meshPort: MeshPort,
    discoveryPort: DiscoveryPort,
  };
  const violations = new Map<string, number>();
  /** The first frames each violation was seen in, written to the log directory as pcap. */
  const flagged: { at: number; frame: Buffer }[] = [];
  let wireguardFrames = 0;
  let capture: Daemon | null = null;
  let sampling: NodeJS.Timeout | null = null;
  let stopping = false;
  let faultsRun = 0;
  /** Seconds from heal to every pair up and answering pings, per fault kind. */
  const recoveries = new Map<string, number[]>();
  const nameOf = (node: number) => (node === 0 ? "discovery" : `node-${node}`);

  const restart = async (i: number) => {
    if (i === 0) {
      await mesh.startDiscovery();
    } else {
      mesh.startNode(i);
      await mesh.ready(i);
    }
  };
  mesh.onExit = (p, code) => {
    finished.push(p);
    if (stopping || expected.has(p.daemon)) return;
    const tail = p.daemon.output().slice(-2_000);
    timeline.add("fail", `${nameOf(p.node)} died unexpectedly (${code}); last output:\n${tail}`);
    watch.exempt.add(p.node);
    void restart(p.node).catch((e) => timeline.add("fail", `restarting ${nameOf(p.node)}: ${e}`));
  };
  const ctx = {
    mesh,
    restart,
    kill: async (i: number) => {
      const p = mesh.process(i);
      if (p) expected.add(p.daemon);
      await mesh.kill(i);
    },
  };

  try {
    timeline.add("setup", `seed ${opts.seed}, ${opts.minutes} min, ${mesh.nodes.length} nodes`);
    await mesh.setup();
    checkClockStep(findLibfaketime(), join(mesh.base, "clock-check"));
    capture = await captureBridge(
      mesh,
      Bridge,
      (frame) => {
        const v = inspectFrame(frame, rules);
        if (v === "wireguard") wireguardFrames++;
        if (typeof v !== "object") return;
        const key = v.violation.replace(/\(type.*$/, "");
        const n = violations.get(key) ?? 0;
        violations.set(key, n + 1);
        if (n < 5 && flagged.length < 100)
          flagged.push({ at: Date.now(), frame: Buffer.from(frame) });
        if (n === 0) timeline.add("fail", `cleartext check: ${v.violation}`);
      },
      (err) => timeline.add("fail", `capture: ${err.message}`),
    );
    await mesh.startDiscovery();
    const t0 = performance.now();
    for (const i of mesh.nodes) mesh.startNode(i);
    for (const i of mesh.nodes) await mesh.ready(i);
    traffic.start([
      [1, 2],
      [3, mesh.nodes.length],
    ]);
    const first = await awaitRecovery(mesh, traffic, t0, 180_000);
    if ("missing" in first) throw new Error(`the mesh never came up: ${first.missing}`);
    timeline.add(
      "setup",
      `mesh up and carrying traffic ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    sampling = setInterval(() => {
      const t = timeline.now();
      for (const i of [0, ...mesh.nodes]) {
        const p = mesh.process(i);
        const pid = p?.daemon.child.pid;
        if (p && pid) sampler.sample(nameOf(i), pid, timeline.at(p.startedAt), t);
      }
    }, SampleEveryMs);
    watch.start();

    // Faults while the time lasts — and at least one of every kind (the schedule puts them
    // first), so a slow machine makes a short run longer, never thinner.
    const end = performance.now() + opts.minutes * 60_000;
    const kindsRun = new Set<string>();
    for (const f of schedule) {
      const allKinds = kindsRun.size === FaultKinds.length;
      if (allKinds && performance.now() + f.gapMs + f.holdMs > end) break;
      await new Promise((r) => setTimeout(r, f.gapMs));
      await runFault(f);
      kindsRun.add(f.kind);
      faultsRun++;
    }
    const left = end - performance.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));

    // Final state: everything up and flowing, the capture saw the traffic, no resource trend.
    const last = await awaitRecovery(mesh, traffic, performance.now());
    if ("missing" in last) timeline.add("fail", `mesh not whole at the end: ${last.missing}`);
    if (wireguardFrames === 0) {
      timeline.add("fail", "the capture saw no WireGuard traffic: the cleartext check was blind");
    }
    for (const v of judge(sampler.series.values())) {
      timeline.add(
        v.growing ? "fail" : "info",
        `${v.growing ? "growing " : "flat "}${describeVerdict(v)}`,
      );
    }
    for (const [kind, secs] of recoveries) {
      const worst = Math.max(...secs).toFixed(1);
      timeline.add("info", `recovery after ${kind}: ${secs.length}×, slowest ${worst} s`);
    }
    const totals = traffic.totals();
    timeline.add(
      "info",
      `pings answered ${totals.replies} of ${totals.sent}; captured ${wireguardFrames} WireGuard frames`,
    );
    for (const s of traffic.streams) {
      timeline.add(
        "info",
        `tcp stream node-${s.from}→node-${s.to}: ${s.received} bytes, ${s.reconnects} reconnects after a stall`,
      );
    }
  } catch (err) {
    timeline.add("fail", `soak aborted: ${err instanceof Error ? err.stack : err}`);
  } finally {
    stopping = true;
    watch.stop();
    if (sampling) clearInterval(sampling);
    await traffic.stop();
    if (capture) await mesh.lab.kill(capture);
    const failures = timeline.failures();
    if (opts.logDir) {
      saveLogs(opts.logDir, mesh, finished, timeline);
      if (flagged.length > 0) writeFileSync(join(opts.logDir, "flagged.pcap"), pcapFile(flagged));
    }
    await mesh.teardown();
    timeline.add("info", `${faultsRun} faults, ${failures.length} failures`);
  }
  return {
    seed: opts.seed,
    minutes: opts.minutes,
    faults: faultsRun,
    failures: timeline.failures(),
    timeline,
  };

  async function runFault(f: Fault): Promise<void> {
    const what = `#${f.id} ${describeFault(f)}`;
    const disruptive = !NonDisruptive.has(f.kind);
    watch.context = `during fault ${what}`;
    if (disruptive) watch.exempt = new Set([f.node]);
    timeline.add("fault", what);
    const active = await inject(ctx, f);
    if (f.holdMs > 0) {
      await new Promise((r) => setTimeout(r, f.holdMs));
      await active.heal();
      timeline.add("heal", `#${f.id} ${f.kind} ${nameOf(f.node)} healed`);
    }
    const healedAt = performance.now();
    watch.context = `recovering from fault ${what}`;
    const r = await awaitRecovery(mesh, traffic, healedAt);
    if ("missing" in r) {
      timeline.add("fail", `#${f.id} not recovered within 60 s of the heal: ${r.missing}`);
      // Keep going: the next faults still tell something; wait for whatever recovery comes.
      await awaitRecovery(mesh, traffic, performance.now(), 120_000);
    } else {
      recoveries.set(f.kind, [...(recoveries.get(f.kind) ?? []), r.trafficMs / 1000]);
      timeline.add(
        "recovered",
        `#${f.id} all pairs up after ${(r.statusMs / 1000).toFixed(1)} s, traffic flowing after ${(r.trafficMs / 1000).toFixed(1)} s`,
      );
    }
    watch.exempt = new Set();
    watch.context = "steady state";
  }
}

function saveLogs(dir: string, mesh: SoakMesh, finished: MeshProcess[], timeline: Timeline): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "timeline.txt"), `${timeline}\n`);
  const all = [...finished];
  for (const i of [0, ...mesh.nodes]) {
    const p = mesh.process(i);
    if (p) all.push(p);
  }
  const seen = new Map<number, number>();
  for (const p of all) {
    const n = (seen.get(p.node) ?? 0) + 1;
    seen.set(p.node, n);
    const name = p.node === 0 ? "discovery" : `node-${p.node}`;
    writeFileSync(join(dir, `${name}.${n}.log`), p.daemon.output());
  }
}
