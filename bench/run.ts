/**
 * `pnpm bench`: the micro-benchmarks (benchmark.js), then, as root, the tunnel benchmark
 * against wireguard-go and the handshake-flood benchmark. Prints a table and appends it, with a
 * description of the machine, to bench/RESULTS.md. Options: see bench/tunnel/options.ts
 * (`pnpm bench --quick` for a short run; `--discovery-load` and `--mesh-sim` add the long
 * scale runs of issue #13).
 */
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { privilegedSkipReason } from "../test/support/privileged.js";
import { describeMachine } from "./tunnel/machine.js";
import { parseOptions } from "./tunnel/options.js";
import { formatTunnelTable, runTunnelBench } from "./tunnel/tunnel.js";

type MicroResult = Array<{ name: string; hz: number }>;

/** Micro-benchmark modules and their entry points; a module not yet written is skipped. */
const MICRO: ReadonlyArray<{ file: string; fn: string }> = [
  { file: "micro/crypto.ts", fn: "runCryptoBench" },
  { file: "micro/allowed-ips.ts", fn: "runAllowedIpsBench" },
  { file: "micro/handshake.ts", fn: "runHandshakeBench" },
  { file: "micro/tcp.ts", fn: "runTcpBench" },
];

const RESULTS_MD = join(import.meta.dirname, "RESULTS.md");

/** One status line on stderr, rewritten in place on a terminal. */
function progress(line: string): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${line}`);
  } else {
    process.stderr.write(`${line}\n`);
  }
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
}

async function runMicro(): Promise<string> {
  const rows: string[] = ["| micro-benchmark | ops/s |", "|---|---:|"];
  for (const m of MICRO) {
    const path = join(import.meta.dirname, m.file);
    if (!existsSync(path)) {
      progress(`micro: ${m.file} not present, skipped`);
      continue;
    }
    progress(`micro: ${m.file}`);
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    const fn = mod[m.fn];
    if (typeof fn !== "function") throw new Error(`${m.file} does not export ${m.fn}()`);
    const results = (await fn()) as MicroResult;
    for (const r of results) rows.push(`| ${r.name} | ${Math.round(r.hz).toLocaleString("en")} |`);
  }
  endProgress();
  return rows.join("\n");
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  const sections: string[] = [];
  const machine = await describeMachine();
  console.log(machine);

  if (opts.micro) {
    const table = await runMicro();
    console.log(`\n${table}\n`);
    sections.push(`### Micro-benchmarks\n\n${table}`);
  }

  const privileged = privilegedSkipReason === null;
  if (!privileged && opts.tunnel) {
    console.log(
      `Tunnel benchmark skipped: it ${privilegedSkipReason}. ` +
        "Run `sudo pnpm bench` for the comparison with wireguard-go.",
    );
  }

  if (privileged && opts.tunnel) {
    const res = await runTunnelBench(opts, progress);
    endProgress();
    const table = formatTunnelTable(res);
    console.log(`\n${table}\n`);
    const how =
      `${opts.rounds} rounds × ${opts.seconds} s TCP (1 s warm-up omitted), ${opts.udpSeconds} s UDP, ` +
      `${opts.pings} pings per pairing and round, pairings alternating; single iperf3 stream; ` +
      "a = sender namespace, b = receiver; CPU = utime+stime of the daemon ÷ bytes sent." +
      (opts.nodeArgs.length ? ` wirespan node flags: ${opts.nodeArgs.join(" ")}.` : "");
    sections.push(
      `### Tunnel (iperf3 through the tunnel, veth between two netns)\n\n${how}\n\n${table}`,
    );
  }

  if (privileged && opts.tunnel) {
    const { runNetstackBench } = await import("./netstack.js");
    const table = await runNetstackBench(
      opts.quick
        ? { mb: 10, rounds: 1, idle: 1000, rate: 50, slirp: true }
        : { mb: 50, rounds: 3, idle: 10_000, rate: 300, slirp: true },
      progress,
    );
    endProgress();
    console.log(`\n${table}\n`);
    sections.push(`### Netstack vs TUN path (bench/netstack.ts)\n\n${table}`);
  }

  // The in-process flood benchmark drives an Engine: no privileges needed. The line-rate one
  // floods real daemons in network namespaces, next to wireguard-go.
  if (opts.flood) {
    const mod = await import("./flood/in-process.js");
    const table = await mod.runFloodBench(progress);
    endProgress();
    console.log(`\n${table}\n`);
    sections.push(`### Handshake flood (in process)\n\n${table}`);
    if (privileged) {
      const lr = await import("./flood/line-rate.js");
      const res = await lr.runLineRateFlood({ rounds: opts.rounds }, progress);
      endProgress();
      const lrTable = lr.formatLineRate(res);
      console.log(`\n${lrTable}\n`);
      sections.push(
        `### Handshake flood at line rate (network namespaces)\n\n${lr.HOW}\n\n${lrTable}`,
      );
    }
  }

  if (opts.discoveryLoad) {
    const { DefaultDiscoveryLoad, formatDiscoveryLoad, runDiscoveryLoad } = await import(
      "./discovery/load.js"
    );
    const r = await runDiscoveryLoad(DefaultDiscoveryLoad, progress);
    endProgress();
    const table = formatDiscoveryLoad(r);
    console.log(`\n${table}\n`);
    sections.push(`### Discovery service under load\n\n${table}`);
  }

  if (opts.meshSim) {
    const { runMeshSimBench } = await import("./mesh-sim.js");
    const table = await runMeshSimBench(progress);
    endProgress();
    console.log(`\n${table}\n`);
    sections.push(`### Mesh simulation (one process)\n\n${table}`);
  }

  if (opts.append && sections.length > 0) {
    const title = `## ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC${opts.quick ? " (quick)" : ""}`;
    const note = opts.note ? `\n${opts.note}\n` : "";
    appendFileSync(RESULTS_MD, `\n${title}\n${note}\n${machine}\n\n${sections.join("\n\n")}\n`);
    console.log(`Appended to ${RESULTS_MD}`);
  }
}

await main();
