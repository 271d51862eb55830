/**
 * Discovery service under load (issue #13 item 1): N simulated Talos nodes across C clusters,
 * every node with its own connection and Watch stream, refreshing at the Talos cadence (TTL/2 =
 * 15 min, random phase) with churn (nodes leaving and joining). The service runs alone in one
 * process (server-process.ts); the load comes from W worker processes (load-worker.ts) written
 * from the published API only. Reported: the service's RSS and CPU, AffiliateUpdate latency,
 * and Watch propagation delay — per delivery, and until every watcher of the cluster had it.
 *
 *   pnpm bench:discovery [--nodes 10000] [--clusters 100] [--workers 4]
 *     [--ramp-seconds 120] [--seconds 120] [--churn-per-minute 1%] [--refresh-seconds 900]
 *     [--join-concurrency 64]
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import type { WorkerConfig } from "./load-worker.js";

export interface DiscoveryLoadOptions {
  nodes: number;
  clusters: number;
  workers: number;
  rampSeconds: number;
  seconds: number;
  /** Fraction of all nodes replaced per minute during the measured phase. */
  churnPerMinute: number;
  refreshMs: number;
  /** Joins in flight at once per load process (connection pacing). */
  joinConcurrency: number;
}

export const DefaultDiscoveryLoad: DiscoveryLoadOptions = {
  nodes: 10_000,
  clusters: 100,
  workers: 4,
  rampSeconds: 120,
  seconds: 120,
  churnPerMinute: 0.01,
  refreshMs: 15 * 60 * 1000,
  joinConcurrency: 64,
};

interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  cpuMicros: number;
  loopP99Ms: number;
  loopMaxMs: number;
  metrics: { watchersAborted: number; watchCoalesced: number; watchStreams: number };
}

interface WorkerReport {
  updateLatencyMs: number[];
  deliveryMs: number[];
  allWatchersMs: number[];
  incomplete: number;
  errors: number;
  aborts: number;
  joins: number;
  leaves: number;
  refreshes: number;
  nodes: number;
  loopP99Ms: number;
  loopMaxMs: number;
  cpuPercent: number;
}

export interface DiscoveryLoadResult {
  options: DiscoveryLoadOptions;
  nodes: number;
  rssPeakMb: number;
  rssEndMb: number;
  heapEndMb: number;
  externalEndMb: number;
  cpuPercent: number;
  /** The service's event-loop delay while measuring. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** The load processes: highest CPU % and event-loop delay p99 of any one. */
  loadCpuPercentMax: number;
  loadLoopP99MsMax: number;
  coalesced: number;
  updates: number;
  updateP50: number;
  updateP99: number;
  deliveries: number;
  deliveryP50: number;
  deliveryP99: number;
  allWatchersP50: number;
  allWatchersP99: number;
  incomplete: number;
  aborts: number;
  errors: number;
  churned: number;
}

const execArgv = ["--conditions=@wirespan/source", "--import", "tsx"];

function spawn(file: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return fork(join(import.meta.dirname, file), [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type: string }) => {
      if (msg.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(msg as T);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`child exited (${code}) before ${type}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runDiscoveryLoad(
  opts: DiscoveryLoadOptions,
  progress: (line: string) => void = () => {},
): Promise<DiscoveryLoadResult> {
  const server = spawn("server-process.ts", {
    BENCH_WATCHERS_MAX: String(Math.ceil(opts.nodes * 1.5)),
  });
  const children: ChildProcess[] = [server];
  try {
    const { address } = await next<{ address: string }>(server, "ready");
    const stats = async (): Promise<ServerStats> => {
      const p = next<ServerStats>(server, "stats");
      server.send({ type: "stats" });
      return p;
    };
    const perCluster = Math.floor(opts.nodes / opts.clusters);
    const workers: ChildProcess[] = [];
    for (let w = 0; w < opts.workers; w++) {
      const clusters: string[] = [];
      for (let c = w; c < opts.clusters; c += opts.workers) clusters.push(`bench-cluster-${c}`);
      const share = clusters.length / opts.clusters;
      const config: WorkerConfig = {
        target: address,
        clusters,
        nodesPerCluster: perCluster,
        rampPerSecond: (opts.nodes * share) / opts.rampSeconds,
        refreshMs: opts.refreshMs,
        churnPerSecond: (opts.nodes * share * opts.churnPerMinute) / 60,
        joinConcurrency: opts.joinConcurrency,
      };
      const child = spawn("load-worker.ts");
      children.push(child);
      workers.push(child);
      child.send({ type: "start", config });
    }
    const upNow = new Map<ChildProcess, { nodes: number; errors: number; cpuPercent: number }>();
    let serverCpu = { micros: 0, at: performance.now(), percent: 0 };
    for (const w of workers) {
      w.on("message", (m: { type: string; nodes: number; errors: number; cpuPercent: number }) => {
        if (m.type !== "progress") return;
        upNow.set(w, m);
        if (upNow.size === workers.length) {
          const all = [...upNow.values()];
          const n = all.reduce((a, b) => a + b.nodes, 0);
          const errors = all.reduce((a, b) => a + b.errors, 0);
          const cpus = all.map((r) => r.cpuPercent.toFixed(0)).join("/");
          progress(
            `discovery load: ${n} nodes up, ${errors} errors; CPU service ${serverCpu.percent.toFixed(0)} %, load processes ${cpus} %`,
          );
          upNow.clear();
        }
      });
    }
    progress(`discovery load: ramping up ${opts.nodes} nodes over ${opts.rampSeconds} s`);
    let rssPeak = 0;
    const sampler = setInterval(() => {
      void stats()
        .then((s) => {
          rssPeak = Math.max(rssPeak, s.rss);
          const at = performance.now();
          const percent = ((s.cpuMicros - serverCpu.micros) / 1000 / (at - serverCpu.at)) * 100;
          serverCpu = { micros: s.cpuMicros, at, percent };
        })
        .catch(() => {});
    }, 2_000);
    const ramped = await Promise.all(
      workers.map((w) => next<{ nodes: number; firstErrors: string[] }>(w, "ramped")),
    );
    const nodes = ramped.reduce((n, r) => n + r.nodes, 0);
    const rampErrors = ramped.flatMap((r) => r.firstErrors);
    if (rampErrors.length > 0)
      progress(`discovery load: errors while ramping: ${rampErrors.join("; ")}`);
    progress(`discovery load: ${nodes} nodes up; measuring ${opts.seconds} s`);
    const before = await stats();
    server.send({ type: "measure" });
    const t0 = performance.now();
    for (const w of workers) w.send({ type: "measure" });
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));
    const reports = await Promise.all(
      workers.map((w) => {
        const p = next<WorkerReport>(w, "report");
        w.send({ type: "report" });
        return p;
      }),
    );
    const after = await stats();
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, after.rss);
    const merge = (f: (r: WorkerReport) => number[]) => reports.flatMap(f).sort((a, b) => a - b);
    const updates = merge((r) => r.updateLatencyMs);
    const deliveries = merge((r) => r.deliveryMs);
    const all = merge((r) => r.allWatchersMs);
    const sum = (f: (r: WorkerReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    for (const w of workers) w.send({ type: "stop" });
    return {
      options: opts,
      nodes,
      rssPeakMb: rssPeak / 2 ** 20,
      rssEndMb: after.rss / 2 ** 20,
      heapEndMb: after.heapUsed / 2 ** 20,
      externalEndMb: after.external / 2 ** 20,
      loopP99Ms: after.loopP99Ms,
      loopMaxMs: after.loopMaxMs,
      loadCpuPercentMax: Math.max(...reports.map((r) => r.cpuPercent)),
      loadLoopP99MsMax: Math.max(...reports.map((r) => r.loopP99Ms)),
      coalesced: after.metrics.watchCoalesced - before.metrics.watchCoalesced,
      cpuPercent: ((after.cpuMicros - before.cpuMicros) / 1000 / wallMs) * 100,
      updates: updates.length,
      updateP50: percentile(updates, 50),
      updateP99: percentile(updates, 99),
      deliveries: sum((r) => r.deliveryMs.length),
      deliveryP50: percentile(deliveries, 50),
      deliveryP99: percentile(deliveries, 99),
      allWatchersP50: percentile(all, 50),
      allWatchersP99: percentile(all, 99),
      incomplete: sum((r) => r.incomplete),
      aborts: sum((r) => r.aborts),
      errors: sum((r) => r.errors),
      churned: sum((r) => r.leaves),
    };
  } finally {
    await new Promise((r) => setTimeout(r, 500));
    for (const c of children) c.kill("SIGKILL");
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");

export function formatDiscoveryLoad(r: DiscoveryLoadResult): string {
  const o = r.options;
  return [
    `${r.nodes} nodes in ${o.clusters} clusters (${o.workers} load processes, one connection and`,
    `Watch per node), ramp ${o.rampSeconds} s, measured ${o.seconds} s; refresh every`,
    `${o.refreshMs / 60_000} min per node (random phase), churn ${(o.churnPerMinute * 100).toFixed(1)} %/min`,
    `(${r.churned} left and rejoined).`,
    "",
    "| service RSS peak / end | heap / external end | service CPU | service loop delay p99 / max | AffiliateUpdate p50 / p99 | Watch delivery p50 / p99 | all watchers of the cluster p50 / p99 | updates | deliveries | incomplete | aborted watches | coalesced | errors | busiest load process CPU / loop p99 |",
    "|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    `| ${f1(r.rssPeakMb)} / ${f1(r.rssEndMb)} MB | ${f1(r.heapEndMb)} / ${f1(r.externalEndMb)} MB | ${f1(r.cpuPercent)} % | ${f1(r.loopP99Ms)} / ${f1(r.loopMaxMs)} ms | ${f1(r.updateP50)} / ${f1(r.updateP99)} ms | ${f1(r.deliveryP50)} / ${f1(r.deliveryP99)} ms | ${f1(r.allWatchersP50)} / ${f1(r.allWatchersP99)} ms | ${r.updates} | ${r.deliveries} | ${r.incomplete} | ${r.aborts} | ${r.coalesced} | ${r.errors} | ${f1(r.loadCpuPercentMax)} % / ${f1(r.loadLoopP99MsMax)} ms |`,
  ].join("\n");
}

function parseArgs(argv: string[]): DiscoveryLoadOptions {
  const o = { ...DefaultDiscoveryLoad };
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(String(argv[i + 1]).replace(/%$/, ""));
    const pct = String(argv[i + 1]).endsWith("%");
    switch (argv[i]) {
      case "--nodes":
        o.nodes = v;
        break;
      case "--clusters":
        o.clusters = v;
        break;
      case "--workers":
        o.workers = v;
        break;
      case "--ramp-seconds":
        o.rampSeconds = v;
        break;
      case "--seconds":
        o.seconds = v;
        break;
      case "--churn-per-minute":
        o.churnPerMinute = pct ? v / 100 : v;
        break;
      case "--refresh-seconds":
        o.refreshMs = v * 1000;
        break;
      case "--join-concurrency":
        o.joinConcurrency = v;
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
    if (!Number.isFinite(v) || v < 0) throw new Error(`${argv[i]} needs a number`);
  }
  return o;
}

if (process.argv[1] === import.meta.filename) {
  const r = await runDiscoveryLoad(parseArgs(process.argv.slice(2)), (l) => console.error(l));
  console.log(formatDiscoveryLoad(r));
  process.exit(0);
}
