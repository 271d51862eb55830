/**
 * Ping RTT through an idle tunnel, wirespan next to wireguard-go in one run (issue #11 item 2):
 * `pnpm bench:idle-rtt [--rounds N] [--pairings wg-wg,ws-ws,...] [--no-hops] [--no-append]`
 * (root: network namespaces and TUN devices). Before/after in the same run: `--ab-tree DIR`
 * (wirespan-wg of another checkout), `--ab K=V[,K=V]` (daemon environment), `--ab-args "FLAGS"`
 * (node flags) add a variant of every wirespan pairing.
 *
 * Per round, every pairing in turn (the order reversed every other round, so neither side is
 * always first after a quiet spell): fresh daemons, then pings 20 ms apart and 200 ms apart (each
 * ping finds the daemons idle), and, unless --no-hops, one more series under tcpdump to split the
 * round trip hop by hop (bench/latency/hops.ts). The underlay (the veth alone, no tunnel) is
 * pinged the same way every round: what the kernel and an idle vCPU cost without any daemon.
 * Medians over all pings of all rounds; the load average is recorded with every figure, since
 * other processes on a shared machine distort latency.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { privilegedSkipReason } from "../../test/support/privileged.js";
import { pingRtts } from "../tunnel/iperf.js";
import { describeMachine } from "../tunnel/machine.js";
import { BenchNet, UNDERLAY } from "../tunnel/netns.js";
import {
  PAIRINGS,
  type Pairing,
  selectPairings,
  withNodeArgs,
  withTree,
  withVariants,
} from "../tunnel/pairings.js";
import { cpuMicros } from "../tunnel/proc.js";
import { median } from "../tunnel/stats.js";
import { TunnelPair } from "../tunnel/tunnel-pair.js";
import { HOPS, type Hop, measureHops } from "./hops.js";

const SPACINGS = [
  { label: "20 ms apart", interval: 0.02, count: 50 },
  { label: "200 ms apart", interval: 0.2, count: 20 },
] as const;

interface Row {
  label: string;
  rtts: number[][];
  /** CPU µs per ping of daemon a and b (all threads), per spacing and round. */
  cpuA: number[][];
  cpuB: number[][];
  hops: Array<Record<Hop, number>>;
}

interface Options {
  rounds: number;
  pairings: Pairing[];
  hops: boolean;
  append: boolean;
  note: string;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    rounds: 5,
    pairings: selectPairings("wg-wg,ws-ws"),
    hops: true,
    append: true,
    note: "",
  };
  let tree: string | null = null;
  let nodeArgs: string[] | null = null;
  let env: Record<string, string> | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--rounds") o.rounds = Math.max(1, Number(argv[++i]));
    else if (a === "--pairings") o.pairings = selectPairings(argv[++i] ?? "");
    else if (a === "--all") o.pairings = [...PAIRINGS];
    else if (a === "--no-hops") o.hops = false;
    else if (a === "--no-append") o.append = false;
    else if (a === "--note") o.note = argv[++i] ?? "";
    else if (a === "--ab-tree") tree = argv[++i] ?? "";
    else if (a === "--ab-args") nodeArgs = (argv[++i] ?? "").split(" ").filter(Boolean);
    else if (a === "--ab") env = parseEnv(argv[++i] ?? "");
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.rounds)) throw new Error("--rounds needs an integer");
  // Variants apply to the final pairing list, whatever the order of the flags.
  o.pairings = withNodeArgs(withTree(withVariants(o.pairings, env), tree), nodeArgs);
  return o;
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of text.split(",")) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new Error(`--ab expects NAME=VALUE pairs, got "${kv}"`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** The idle state an idle vCPU enters (cpuidle driver, or the kernel's default HLT). */
function idleDriver(): string {
  try {
    return readFileSync("/sys/devices/system/cpu/cpuidle/current_driver", "utf8").trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  if (privilegedSkipReason) throw new Error(`idle-rtt needs root: ${privilegedSkipReason}`);
  const opts = parseArgs(process.argv.slice(2));
  const net = new BenchNet("wsl");
  const rows = new Map<string, Row>();
  const rowOf = (label: string) => {
    let r = rows.get(label);
    if (!r) {
      r = {
        label,
        rtts: SPACINGS.map(() => []),
        cpuA: SPACINGS.map(() => []),
        cpuB: SPACINGS.map(() => []),
        hops: [],
      };
      rows.set(label, r);
    }
    return r;
  };
  const loads: string[] = [load()];
  const cleanup = () => void net.teardown().finally(() => process.exit(130));
  process.once("SIGINT", cleanup);
  try {
    await net.setup();
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? opts.pairings : [...opts.pairings].reverse();
      const under = rowOf("underlay (veth, no tunnel)");
      for (const [k, s] of SPACINGS.entries()) {
        under.rtts[k].push(...(await pingRtts(net, s.count, s.interval, UNDERLAY.b)));
      }
      for (const p of order) {
        process.stderr.write(`round ${round + 1}/${opts.rounds}: ${p.label} (load ${load()})\n`);
        const row = rowOf(p.label);
        const tunnel = await TunnelPair.up(net, p.a, p.b, {
          env: p.env,
          tree: p.tree,
          nodeArgs: p.nodeArgs,
        });
        try {
          await new Promise((r) => setTimeout(r, 1000));
          for (const [k, s] of SPACINGS.entries()) {
            const a0 = cpuMicros(tunnel.a.pid);
            const b0 = cpuMicros(tunnel.b.pid);
            row.rtts[k].push(...(await pingRtts(net, s.count, s.interval)));
            row.cpuA[k].push((cpuMicros(tunnel.a.pid) - a0) / s.count);
            row.cpuB[k].push((cpuMicros(tunnel.b.pid) - b0) / s.count);
          }
          if (opts.hops) row.hops.push(await measureHops(net, 20, 0.2));
        } finally {
          await tunnel.down();
        }
      }
      loads.push(load());
    }
  } finally {
    process.removeListener("SIGINT", cleanup);
    await net.teardown();
  }
  const table = format([...rows.values()], opts, loads);
  process.stdout.write(`${table}\n`);
  if (opts.append) {
    const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
    appendFileSync(
      join(import.meta.dirname, "../RESULTS.md"),
      `\n## ${stamp} UTC — idle ping RTT (\`pnpm bench:idle-rtt\`)\n\n${await describeMachine()}; ` +
        `cpuidle driver: ${idleDriver()}.\n${opts.note ? `\n${opts.note}\n` : ""}\n${table}\n`,
    );
  }
}

const us = (ms: number) => (Number.isNaN(ms) ? "–" : (ms * 1000).toFixed(0));

function format(rows: Row[], opts: Options, loads: string[]): string {
  const lines = [
    `${opts.rounds} rounds, pairings alternating (order reversed every other round); ` +
      `${SPACINGS.map((s) => `${s.count} pings ${s.label}`).join(", ")} per round; ` +
      `load average (1/5/15 min) at start and after each round: ${loads.join(" → ")}.`,
    "",
    `| path | ${SPACINGS.map((s) => `RTT µs ${s.label} (median)`).join(" | ")} | ${SPACINGS.map((s) => `CPU µs per ping a / b, ${s.label}`).join(" | ")} | pings |`,
    `|---|${SPACINGS.map(() => "---:").join("|")}|${SPACINGS.map(() => "---:").join("|")}|---:|`,
  ];
  const cpu = (a: number[], b: number[]) =>
    a.length === 0 ? "–" : `${median(a).toFixed(0)} / ${median(b).toFixed(0)}`;
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.rtts.map((x) => us(median(x))).join(" | ")} | ${r.cpuA.map((a, k) => cpu(a, r.cpuB[k])).join(" | ")} | ${r.rtts.map((x) => x.length).join(" + ")} |`,
    );
  }
  if (opts.hops) {
    lines.push(
      "",
      "Hop by hop (µs, tcpdump timestamps, pings 200 ms apart; median per round, then median of rounds):",
      "",
      `| pairing | ${HOPS.join(" | ")} |`,
      `|---|${HOPS.map(() => "---:").join("|")}|`,
    );
    for (const r of rows) {
      if (r.hops.length === 0) continue;
      const cells = HOPS.map((h) => {
        const v = median(r.hops.map((x) => x[h]));
        return Number.isNaN(v) ? "–" : v.toFixed(0);
      });
      lines.push(`| ${r.label} | ${cells.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

await main();
