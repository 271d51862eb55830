/**
 * Micro-benchmark of the netstack's TCP layer: two TcpLayers over an in-memory link.
 *  1. CPU cost: a bulk transfer over a lossless zero-delay link, per CPU-second of the process
 *     (the machine is shared, wall clock is noise) → MiB/s and segments/s (data one way, ACKs
 *     the other).
 *  2. Congestion control: CUBIC vs NewReno over a simulated bottleneck (bandwidth, RTT,
 *     drop-tail queue) with random loss, goodput in virtual time (deterministic per seed).
 * Run: node --import tsx bench/micro/tcp.ts
 */
import { pathToFileURL } from "node:url";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { TcpLayer } from "../../packages/tun/src/netstack/tcp/index.js";
import type {
  CongestionControlName,
  TcpConnection,
} from "../../packages/tun/src/netstack/tcp/types.js";
import type { BenchResult } from "./suite.js";

const A = Uint8Array.of(198, 19, 0, 1);
const B = Uint8Array.of(198, 19, 0, 2);

function rng(seed: number): () => number {
  const g = xoroshiro128plus(seed);
  return () => uniformInt(g, 0, 0xffffffff) / 4294967296;
}

interface PathOptions {
  /** One-way propagation delay, ms. */
  delayMs: number;
  /** Bottleneck rate in bytes per ms (0 = unlimited). */
  bytesPerMs: number;
  /** Drop-tail queue length in packets at the bottleneck. */
  queue: number;
  loss: number;
}

interface Packet {
  at: number;
  src: Uint8Array;
  dst: Uint8Array;
  seg: Uint8Array;
}

/** One direction of the path: FIFO (a constant delay keeps order), bottleneck, random loss. */
class Direction {
  readonly q: Packet[] = [];
  head = 0;
  private busyUntil = 0;
  segments = 0;
  constructor(
    private readonly o: PathOptions,
    private readonly rand: () => number,
  ) {}

  send(now: number, src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    this.segments++;
    if (this.o.loss > 0 && this.rand() < this.o.loss) return;
    let depart = now;
    if (this.o.bytesPerMs > 0) {
      const queued = this.q.length - this.head;
      if (queued >= this.o.queue) return; // drop-tail
      depart = Math.max(now, this.busyUntil) + (seg.length + 40) / this.o.bytesPerMs;
      this.busyUntil = depart;
    }
    this.q.push({ at: depart + this.o.delayMs, src, dst, seg });
  }

  next(): number {
    return this.head < this.q.length ? this.q[this.head].at : Number.POSITIVE_INFINITY;
  }

  deliver(now: number, to: TcpLayer): void {
    const q = this.q;
    while (this.head < q.length && q[this.head].at <= now) {
      const p = q[this.head++];
      to.input(p.src, p.dst, p.seg, now);
    }
    if (this.head > 4096 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface TransferResult {
  cpuMs: number;
  virtualMs: number;
  segments: number;
  acks: number;
}

/** Moves `bytes` from A to B; returns CPU and virtual time. */
function transfer(
  bytes: number,
  path: PathOptions,
  cc: CongestionControlName,
  seed: number,
  maxEmitSegment = 0,
): TransferResult {
  const rand = rng(seed);
  const random = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  let now = 0;
  const ab = new Direction(path, rand);
  const ba = new Direction(path, rand);
  const opts = { random, clock: () => now, congestionControl: cc, ownsInput: true, maxEmitSegment };
  const a = new TcpLayer({ ...opts, output: (s, d, seg) => ab.send(now, s, d, seg) });
  const b = new TcpLayer({ ...opts, output: (s, d, seg) => ba.send(now, s, d, seg) });
  let received = 0;
  let server: TcpConnection | undefined;
  b.listen(null, 5201, {}, (c) => {
    server = c;
    c.setEvents({
      readable: () => {
        for (let chunk = c.read(); chunk !== null; chunk = c.read()) received += chunk.length;
      },
    });
  });
  const chunk = new Uint8Array(65536).fill(7);
  let written = 0;
  const client = a.connect({ address: A, port: 0 }, { address: B, port: 5201 }, {}, now);
  const fill = () => {
    while (written < bytes) {
      const n = client.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
      written += n;
      if (n === 0) break;
    }
  };
  client.setEvents({ connected: fill, writable: fill });
  // CPU time of this process, not wall clock: the machine is shared and wall time is noise.
  const t0 = process.cpuUsage();
  let guard = 0;
  while (received < bytes && guard++ < 50_000_000) {
    let t = Math.min(ab.next(), ba.next());
    const da = a.nextDeadline();
    const db = b.nextDeadline();
    if (da !== undefined && da < t) t = da;
    if (db !== undefined && db < t) t = db;
    if (t === Number.POSITIVE_INFINITY) throw new Error("transfer stalled");
    if (t > now) now = t;
    ab.deliver(now, b);
    ba.deliver(now, a);
    a.tick(now);
    b.tick(now);
  }
  void server;
  const cpu = process.cpuUsage(t0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    virtualMs: now,
    segments: ab.segments,
    acks: ba.segments,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1];
}

const CLEAN: PathOptions = { delayMs: 0, bytesPerMs: 0, queue: 0, loss: 0 };

/** CPU cost: MiB and segments per CPU-second, median of `rounds`. */
export function cpuBench(
  mib: number,
  rounds: number,
  maxEmitSegment = 0,
): { mibPerS: number; segPerS: number } {
  const rates: number[] = [];
  const segs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = transfer(mib << 20, CLEAN, "cubic", 100 + i, maxEmitSegment);
    rates.push(mib / (r.cpuMs / 1000));
    segs.push((r.segments + r.acks) / (r.cpuMs / 1000));
  }
  return { mibPerS: median(rates), segPerS: median(segs) };
}

/** Goodput (Mbit/s, virtual time) over a 100 Mbit/s, 20 ms RTT bottleneck with random loss. */
export function ccBench(cc: CongestionControlName, loss: number, seeds: number[]): number {
  const path: PathOptions = { delayMs: 10, bytesPerMs: 12_500, queue: 200, loss };
  const mib = 16;
  const rates = seeds.map((s) => {
    const r = transfer(mib << 20, path, cc, s);
    return ((mib << 20) * 8) / (r.virtualMs / 1000) / 1e6;
  });
  return median(rates);
}

/** Entry point for `pnpm bench` (bench/run.ts): the CPU rows are per CPU-second, CC rows Mbit/s. */
export async function runTcpBench(): Promise<BenchResult[]> {
  // MSS-sized segments and 64 KiB offloaded segments, alternating so both see the same load.
  const plain: number[] = [];
  const tso: number[] = [];
  const segs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = cpuBench(64, 1);
    plain.push(p.mibPerS);
    segs.push(p.segPerS);
    tso.push(cpuBench(64, 1, 65536).mibPerS);
  }
  const out: BenchResult[] = [
    { name: "tcp bulk transfer in memory, both ends (MiB per CPU-second)", hz: median(plain) },
    {
      name: "tcp segments in memory, both ends (segments per CPU-second, incl. ACKs)",
      hz: median(segs),
    },
    {
      name: "tcp bulk transfer, 64 KiB segmentation offload (MiB per CPU-second)",
      hz: median(tso),
    },
  ];
  for (const loss of [0, 0.005, 0.02]) {
    for (const cc of ["cubic", "newreno"] as const) {
      out.push({
        name: `tcp ${cc} goodput, 100 Mbit/s 20 ms RTT, ${loss * 100}% loss (Mbit/s, virtual)`,
        hz: ccBench(cc, loss, [1, 2, 3]),
      });
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runTcpBench();
  console.table(results.map((r) => ({ name: r.name, value: r.hz.toFixed(1) })));
}
