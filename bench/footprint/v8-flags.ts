/**
 * `pnpm bench:footprint:flags` (root): what V8 heap flags given to the published wirespan-wg do to
 * throughput and memory, side by side: per round and per variant (interleaved), a fresh tunnel
 * of two daemons with those flags, one TCP stream a → b for --seconds (20), then 10 s idle.
 * Reports the median Mbit/s, the RSS of both daemons at the end of the traffic and after idling.
 *
 *   --rounds N (3), --seconds N (20), --variant 'LABEL=FLAGS' (repeatable; default: none vs
 *   --max-semi-space-size=1/2/4)
 */
import { join } from "node:path";
import { sleep } from "../../test/support/netns.js";
import { privilegedSkipReason } from "../../test/support/privileged.js";
import { startIperfServer, tcp } from "../tunnel/iperf.js";
import { BenchNet } from "../tunnel/netns.js";
import { memory } from "../tunnel/proc.js";
import { median } from "../tunnel/stats.js";
import { TunnelPair } from "../tunnel/tunnel-pair.js";

const BIN = join(import.meta.dirname, "../../packages/mesh/dist/bin/wirespan-wg.js");

function parse(argv: readonly string[]) {
  let rounds = 3;
  let seconds = 20;
  const variants: Array<{ label: string; flags: string[] }> = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (a === "--rounds") rounds = Number(v);
    else if (a === "--seconds") seconds = Number(v);
    else if (a === "--variant") {
      const eq = v.indexOf("=");
      variants.push({
        label: v.slice(0, eq),
        flags: v
          .slice(eq + 1)
          .split(" ")
          .filter(Boolean),
      });
    } else throw new Error(`unknown option ${a}`);
  }
  if (variants.length === 0) {
    variants.push({ label: "default", flags: [] });
    for (const mb of [1, 2, 4]) {
      variants.push({ label: `semi ${mb} MB`, flags: [`--max-semi-space-size=${mb}`] });
    }
  }
  return { rounds, seconds, variants };
}

const mb = (bytes: number) => bytes / 1048576;
const f1 = (x: number) => x.toFixed(1);

async function main(): Promise<void> {
  if (privilegedSkipReason !== null) {
    console.log(`bench:footprint:flags needs root: it ${privilegedSkipReason}.`);
    return;
  }
  const o = parse(process.argv.slice(2));
  const net = new BenchNet("wsfv");
  await net.setup();
  const res = new Map<string, { mbit: number[]; busy: number[]; idle: number[] }>();
  try {
    startIperfServer(net);
    for (let r = 0; r < o.rounds; r++) {
      for (const v of o.variants) {
        process.stderr.write(`round ${r + 1}/${o.rounds}: ${v.label}\n`);
        const tunnel = await TunnelPair.up(net, "wirespan", "wirespan", {
          bin: BIN,
          nodeArgs: v.flags,
          env: { NODE_EXTRA_CA_CERTS: "", NODE_OPTIONS: "" },
        });
        try {
          const t = await tcp(net, o.seconds);
          const busy = mb(memory(tunnel.a.pid).rss) + mb(memory(tunnel.b.pid).rss);
          await sleep(10_000);
          const idle = mb(memory(tunnel.a.pid).rss) + mb(memory(tunnel.b.pid).rss);
          const e = res.get(v.label) ?? { mbit: [], busy: [], idle: [] };
          e.mbit.push(t.bitsPerSecond / 1e6);
          e.busy.push(busy / 2);
          e.idle.push(idle / 2);
          res.set(v.label, e);
        } finally {
          await tunnel.down();
        }
      }
    }
  } finally {
    await net.teardown();
  }
  const rows = [
    "| node flags | TCP Mbit/s (median; rounds) | RSS per daemon at end of traffic MB (median) | RSS per daemon 10 s later MB (median; rounds) |",
    "|---|---|---:|---|",
  ];
  for (const v of o.variants) {
    const e = res.get(v.label);
    if (!e) continue;
    rows.push(
      `| ${v.label} (${v.flags.join(" ") || "none"}) | **${f1(median(e.mbit))}**; ${e.mbit.map(f1).join(" / ")} | ${f1(median(e.busy))} | **${f1(median(e.idle))}**; ${e.idle.map(f1).join(" / ")} |`,
    );
  }
  console.log(`\n${rows.join("\n")}\n`);
}

await main();
