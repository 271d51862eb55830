/**
 * Child process of the discovery load benchmark: simulated Talos nodes written from the
 * published API only (proto file + @grpc/grpc-js, none of wirespan's client code), each with its
 * own connection (a Talos node has one): Hello → Watch → AffiliateUpdate, then a refresh every
 * `refreshMs` (TTL/2, random phase), and churn — nodes leaving (AffiliateDelete, stream and
 * connection closed) and new ones joining.
 *
 * Each update's data carries the sender's CLOCK_MONOTONIC time (process.hrtime, shared by all
 * processes of the machine), so every watcher measures the propagation delay. A worker owns
 * whole clusters, so it also sees when the last watcher of a cluster got an update.
 */
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import {
  type Client,
  type ClientReadableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

export interface WorkerConfig {
  target: string;
  clusters: string[];
  nodesPerCluster: number;
  /** Joins per second while ramping up (this worker's share). */
  rampPerSecond: number;
  /** Affiliate refresh period (Talos: TTL/2 = 15 min). */
  refreshMs: number;
  /** Nodes replaced per second during the measured phase (this worker's share). */
  churnPerSecond: number;
  /** Joins (connect + Hello + Watch + first update) in flight at once, at most. */
  joinConcurrency: number;
}

/**
 * One channel, one HTTP/2 connection per node (a Talos node has its own), without what grpc-js
 * adds per channel and a node does not need: channelz bookkeeping (socket, tracker, trace per
 * channel and subchannel) and retry buffering.
 */
const CHANNEL_OPTIONS = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.enable_channelz": 0,
  "grpc.enable_retries": 0,
};

interface WatchMessage {
  affiliates?: { id?: string; data?: Buffer }[];
  deleted?: boolean;
}

type Cluster = Client & Record<string, (...args: unknown[]) => unknown>;

const PROTO = join(import.meta.dirname, "../../packages/mesh/src/discovery/proto/cluster.proto");
const definition = loadSync(PROTO, { keepCase: true, longs: String, defaults: false });
const sidero = loadPackageDefinition(definition).sidero as GrpcObject;
const Ctor = ((sidero.discovery as GrpcObject).server as GrpcObject)
  .Cluster as ServiceClientConstructor;

const TTL = { seconds: "1800", nanos: 0 };
/** Affiliate data and endpoints about the size Talos sends (encrypted node record). */
const DATA_BYTES = 320;
const ENDPOINTS = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];

const nowNs = () => process.hrtime.bigint();

/** Talos's deadlines (kubespan.md §1.7): Hello 10 s, the others 30 s. */
function unary(client: Cluster, method: string, req: object): Promise<void> {
  const ms = method === "Hello" ? 10_000 : 30_000;
  return new Promise((resolve, reject) => {
    client[method](req, { deadline: Date.now() + ms }, (err: ServiceError | null) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Samples, counters and pending updates of this worker. */
class Recorder {
  measuring = false;
  updateLatencyMs: number[] = [];
  deliveryMs: number[] = [];
  allWatchersMs: number[] = [];
  incomplete = 0;
  errors = 0;
  /** The first few error messages, for the report. */
  firstErrors: string[] = [];
  aborts = 0;
  joins = 0;
  leaves = 0;
  refreshes = 0;
  /** `${id}/${seq}` → expected watchers, seen, max delay. */
  pending = new Map<string, { expected: number; seen: number; max: number; at: number }>();

  sent(key: string, expected: number): void {
    if (this.measuring) this.pending.set(key, { expected, seen: 0, max: 0, at: Date.now() });
  }

  delivered(key: string, delayMs: number): void {
    if (!this.measuring) return;
    this.deliveryMs.push(delayMs);
    const p = this.pending.get(key);
    if (!p) return;
    p.seen++;
    p.max = Math.max(p.max, delayMs);
    if (p.seen >= p.expected) {
      this.allWatchersMs.push(p.max);
      this.pending.delete(key);
    }
  }

  error(err: unknown): void {
    this.errors++;
    if (this.firstErrors.length < 3) this.firstErrors.push(String((err as Error)?.message ?? err));
  }

  /** Updates not seen by every watcher within 10 s count as incomplete. */
  expire(): void {
    const old = Date.now() - 10_000;
    for (const [k, p] of this.pending) {
      if (p.at < old) {
        this.incomplete++;
        this.pending.delete(k);
      }
    }
  }
}

const rec = new Recorder();
/** This process's own event-loop delay and CPU while measuring: is the generator the bottleneck? */
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let measuredFrom = { cpu: process.cpuUsage(), at: performance.now() };
let nextNode = 0;

class LoadNode {
  readonly id = `node-${process.pid}-${nextNode++}`;
  private client: Cluster | null = null;
  private watch: ClientReadableStream<WatchMessage> | null = null;
  private seq = 0;
  private refreshTimer: NodeJS.Timeout | null = null;
  watching = false;

  constructor(
    readonly cluster: ClusterState,
    private readonly cfg: WorkerConfig,
  ) {}

  async join(): Promise<void> {
    this.client = new Ctor(
      this.cfg.target,
      credentials.createInsecure(),
      CHANNEL_OPTIONS,
    ) as unknown as Cluster;
    await unary(this.client, "Hello", { cluster_id: this.cluster.id, client_version: "bench" });
    this.startWatch();
    await this.update();
    rec.joins++;
    // Refresh at TTL/2 with a random phase, as a fleet started over time does.
    const first = Math.random() * this.cfg.refreshMs;
    this.refreshTimer = setTimeout(() => this.refreshLoop(), first);
  }

  private refreshLoop(): void {
    void this.update()
      .then(() => rec.refreshes++)
      .catch((e) => rec.error(e));
    this.refreshTimer = setTimeout(() => this.refreshLoop(), this.cfg.refreshMs);
  }

  private startWatch(): void {
    const stream = (this.client as Cluster).Watch({
      cluster_id: this.cluster.id,
    }) as ClientReadableStream<WatchMessage>;
    this.watch = stream;
    let first = true;
    stream.on("data", (msg: WatchMessage) => {
      if (first) {
        first = false;
        this.watching = true;
        return; // the snapshot
      }
      if (msg.deleted) return;
      const at = nowNs();
      for (const a of msg.affiliates ?? []) {
        if (!a.data || a.data.length < 12) continue;
        const sentNs = a.data.readBigUInt64BE(0);
        const seq = a.data.readUInt32BE(8);
        rec.delivered(`${a.id}/${seq}`, Number(at - sentNs) / 1e6);
      }
    });
    stream.on("error", (err: ServiceError) => {
      if (this.watch !== stream) return;
      this.watching = false;
      if (err.code === 10)
        rec.aborts++; // ABORTED: lost update, re-watch
      else rec.error(err);
      if (this.client) this.startWatch();
    });
  }

  async update(): Promise<void> {
    if (!this.client) return;
    const data = Buffer.alloc(DATA_BYTES);
    const seq = ++this.seq;
    const key = `${this.id}/${seq}`;
    const t0 = nowNs();
    data.writeBigUInt64BE(t0, 0);
    data.writeUInt32BE(seq, 8);
    rec.sent(key, this.cluster.watchers());
    await unary(this.client, "AffiliateUpdate", {
      cluster_id: this.cluster.id,
      affiliate_id: this.id,
      affiliate_data: data,
      affiliate_endpoints: ENDPOINTS,
      ttl: TTL,
    });
    if (rec.measuring) rec.updateLatencyMs.push(Number(nowNs() - t0) / 1e6);
  }

  /** Leaves the cluster: AffiliateDelete, then the stream and connection closed. */
  async leave(): Promise<void> {
    const client = this.close();
    if (client) {
      await unary(client, "AffiliateDelete", {
        cluster_id: this.cluster.id,
        affiliate_id: this.id,
      }).catch((e) => rec.error(e));
      client.close();
    }
    rec.leaves++;
  }

  /** Stops refreshing and watching; returns the still open client (the caller closes it). */
  close(): Cluster | null {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const client = this.client;
    this.client = null;
    const w = this.watch;
    this.watch = null;
    this.watching = false;
    w?.removeAllListeners();
    w?.on("error", () => {});
    w?.cancel();
    return client;
  }
}

class ClusterState {
  readonly nodes = new Set<LoadNode>();
  constructor(readonly id: string) {}
  watchers(): number {
    let n = 0;
    for (const node of this.nodes) if (node.watching) n++;
    return n;
  }
}

async function main(cfg: WorkerConfig): Promise<void> {
  const clusters = cfg.clusters.map((id) => new ClusterState(id));
  const all = (): LoadNode[] => clusters.flatMap((c) => [...c.nodes]);
  // A node whose join fails (counted) closes its connection and tries again after a backoff, as
  // a Talos node's discovery client does, so the generator ends up with every node it was asked for.
  const startNode = async (c: ClusterState): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const n = new LoadNode(c, cfg);
      c.nodes.add(n);
      try {
        await n.join();
        return;
      } catch (e) {
        rec.error(e);
        c.nodes.delete(n);
        n.close()?.close();
      }
      await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * 2 ** attempt)));
    }
  };
  // Ramp up: every cluster filled, joins spread over time, at most joinConcurrency in flight —
  // a connect storm only times out in the generator's own channel queues (the first 10,000-node
  // attempt: grpc-js "LB pick" waits of 20–37 s with the service idle).
  const order: ClusterState[] = [];
  for (let i = 0; i < cfg.nodesPerCluster; i++) for (const c of clusters) order.push(c);
  const interval = 1000 / cfg.rampPerSecond;
  const t0 = Date.now();
  let lastCpu = process.cpuUsage();
  const progress = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    process.send?.({
      type: "progress",
      nodes: all().length,
      errors: rec.errors,
      cpuPercent: (cpu.user + cpu.system) / 50_000,
    });
  }, 5_000);
  let inflight = 0;
  let slotFreed: () => void = () => {};
  const joined: Promise<unknown>[] = [];
  for (let i = 0; i < order.length; i++) {
    const due = t0 + i * interval;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    while (inflight >= cfg.joinConcurrency) await new Promise<void>((r) => (slotFreed = r));
    inflight++;
    joined.push(
      startNode(order[i]).finally(() => {
        inflight--;
        slotFreed();
      }),
    );
  }
  await Promise.all(joined);
  clearInterval(progress);
  process.send?.({
    type: "ramped",
    nodes: all().length,
    errors: rec.errors,
    firstErrors: rec.firstErrors,
  });

  let churn: NodeJS.Timeout | null = null;
  const expiry = setInterval(() => rec.expire(), 1000);
  process.on("message", (msg: { type: string }) => {
    if (msg.type === "measure") {
      rec.measuring = true;
      loop.reset();
      measuredFrom = { cpu: process.cpuUsage(), at: performance.now() };
      let carry = 0;
      churn = setInterval(() => {
        carry += cfg.churnPerSecond;
        for (; carry >= 1; carry--) {
          const c = clusters[Math.floor(Math.random() * clusters.length)];
          const victim = [...c.nodes][Math.floor(Math.random() * c.nodes.size)];
          if (!victim) continue;
          c.nodes.delete(victim);
          void victim.leave().then(() => startNode(c));
        }
      }, 1000);
    } else if (msg.type === "report") {
      rec.measuring = false;
      if (churn) clearInterval(churn);
      clearInterval(expiry);
      rec.incomplete += rec.pending.size;
      const cpu = process.cpuUsage(measuredFrom.cpu);
      process.send?.({
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
        cpuPercent: ((cpu.user + cpu.system) / 1000 / (performance.now() - measuredFrom.at)) * 100,
        type: "report",
        updateLatencyMs: rec.updateLatencyMs,
        deliveryMs: sample(rec.deliveryMs, 200_000),
        allWatchersMs: rec.allWatchersMs,
        incomplete: rec.incomplete,
        errors: rec.errors,
        firstErrors: rec.firstErrors,
        aborts: rec.aborts,
        joins: rec.joins,
        leaves: rec.leaves,
        refreshes: rec.refreshes,
        nodes: all().length,
      });
    } else if (msg.type === "stop") {
      void Promise.all(all().map((n) => n.leave())).finally(() => process.exit(0));
    }
  });
}

/** At most `max` values, an even sample (percentiles stay representative). */
function sample(values: number[], max: number): number[] {
  if (values.length <= max) return values;
  const step = values.length / max;
  return Array.from({ length: max }, (_, i) => values[Math.floor(i * step)]);
}

process.once("message", (msg: { type: string; config: WorkerConfig }) => {
  if (msg.type === "start") void main(msg.config);
});
