/**
 * `pnpm bench:footprint:soak` (root): issue #11 item 3's memory over time, for the published
 * wirespan-wg (the dist/bin bundle) on both ends of a tunnel between two namespaces:
 *
 *   1. TCP through the tunnel (iperf3, a → b) for --minutes (10) at up to --mbit (200; the shared
 *      machine need not give it every cycle), RSS of both daemons every 5 s;
 *   2. idle 30 s — the idle RSS of a daemon that has carried traffic;
 *   3. a handshake flood at b's port from a (test/support/flooder.ts: valid mac1, one process,
 *      many source ports) for --flood seconds (60), RSS of b every second;
 *   4. idle 30 s again.
 * The daemons run with the Node flags the launcher gives a daemon (SOAK_NODE_FLAGS overrides;
 * SOAK_NODE_FLAGS= for none). Prints a summary (start, min/median/max per phase, a least-squares slope over the traffic
 * phase in MB/min) and the samples as CSV with --csv FILE.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../../test/support/netns.js";
import { privilegedSkipReason } from "../../test/support/privileged.js";
import { startIperfServer, tcp } from "../tunnel/iperf.js";
import { BenchNet, LISTEN_PORT, UNDERLAY } from "../tunnel/netns.js";
import { memory } from "../tunnel/proc.js";
import { median } from "../tunnel/stats.js";
import { TunnelPair } from "../tunnel/tunnel-pair.js";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "packages/mesh/dist/bin/wirespan-wg.js");
const FLOODER = join(ROOT, "test/support/flooder.ts");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

interface Sample {
  t: number;
  phase: string;
  a: number;
  b: number;
}

const mb = (bytes: number) => bytes / 1048576;
const f1 = (x: number) => x.toFixed(1);

/** Least-squares slope of y over x (MB per minute when x is in minutes). */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  if (privilegedSkipReason !== null) {
    console.log(`bench:footprint:soak needs root: it ${privilegedSkipReason}.`);
    return;
  }
  const minutes = option("minutes", 10);
  const floodSeconds = option("flood", 60);
  const mbit = option("mbit", 200);
  const csvAt = process.argv.indexOf("--csv");
  const net = new BenchNet("wsfs");
  await net.setup();
  const samples: Sample[] = [];
  const t0 = Date.now();
  let tunnel: TunnelPair | null = null;
  try {
    startIperfServer(net);
    tunnel = await TunnelPair.up(net, "wirespan", "wirespan", {
      bin: BIN,
      // What the daemonising launcher gives its daemon (cli/wirespan-wg.ts DAEMON_NODE_FLAGS);
      // the soak runs the daemons in the foreground to know their PIDs.
      nodeArgs: (process.env.SOAK_NODE_FLAGS ?? "--max-semi-space-size=1")
        .split(" ")
        .filter(Boolean),
      env: { NODE_EXTRA_CA_CERTS: "", NODE_OPTIONS: "" },
    });
    const { a, b } = tunnel;
    const sample = (phase: string) =>
      samples.push({
        t: (Date.now() - t0) / 1000,
        phase,
        a: mb(memory(a.pid).rss),
        b: mb(memory(b.pid).rss),
      });
    sample("start");
    let done = false;
    const traffic = tcp(net, minutes * 60, mbit * 1e6).finally(() => {
      done = true;
    });
    while (!done) {
      await sleep(5_000);
      sample("traffic");
      process.stderr.write(`traffic ${((Date.now() - t0) / 60000).toFixed(1)} min\n`);
    }
    const t = await traffic;
    for (let i = 0; i < 6; i++) {
      await sleep(5_000);
      sample("idle after traffic");
    }
    const pubHex = Buffer.from(b.pub, "base64").toString("hex");
    const flooder = net.spawn(net.a, [
      process.execPath,
      "--conditions=@wirespan/source",
      "--import",
      "tsx",
      FLOODER,
      UNDERLAY.b,
      String(LISTEN_PORT.b),
      pubHex,
      "valid",
      String(floodSeconds),
      "64",
      UNDERLAY.a,
    ]);
    const floodEnd = Date.now() + (floodSeconds + 15) * 1000;
    while (flooder.child.exitCode === null && Date.now() < floodEnd) {
      await sleep(1_000);
      sample("flood");
    }
    await net.stop(flooder);
    const rate = flooder.output().trim().split("\n").pop() ?? "";
    for (let i = 0; i < 6; i++) {
      await sleep(5_000);
      sample("idle after flood");
    }
    const rows = [
      "| phase | samples | a: min / median / max MB | b: min / median / max MB |",
      "|---|---:|---|---|",
    ];
    for (const phase of ["start", "traffic", "idle after traffic", "flood", "idle after flood"]) {
      const s = samples.filter((x) => x.phase === phase);
      const stat = (v: number[]) =>
        `${f1(Math.min(...v))} / ${f1(median(v))} / ${f1(Math.max(...v))}`;
      rows.push(
        `| ${phase} | ${s.length} | ${stat(s.map((x) => x.a))} | ${stat(s.map((x) => x.b))} |`,
      );
    }
    const tr = samples.filter((x) => x.phase === "traffic" && x.t - samples[0].t > 60);
    const xs = tr.map((x) => x.t / 60);
    console.log(
      `\nTCP a → b ${minutes} min at ${f1(t.bitsPerSecond / 1e6)} Mbit/s; flood ${floodSeconds} s (${rate}).\n` +
        `RSS slope over the traffic phase after its first minute: a ${slope(
          xs,
          tr.map((x) => x.a),
        ).toFixed(2)} MB/min, ` +
        `b ${slope(
          xs,
          tr.map((x) => x.b),
        ).toFixed(2)} MB/min.\n\n${rows.join("\n")}\n`,
    );
    if (csvAt > 0) {
      writeFileSync(
        process.argv[csvAt + 1],
        `t,phase,a_mb,b_mb\n${samples.map((x) => `${x.t},${x.phase},${f1(x.a)},${f1(x.b)}`).join("\n")}\n`,
      );
    }
  } finally {
    await tunnel?.down();
    await net.teardown();
  }
}

await main();
