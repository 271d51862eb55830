/**
 * The tunnel benchmark: every pairing, alternating, for several rounds, in one run on one
 * machine, so that the noise of a shared machine falls on all pairings alike. Reports medians
 * and the ratio to wireguard-go ↔ wireguard-go.
 *
 * Per run: bring the pairing up (fresh daemons), TCP a → b with CPU time of both daemons
 * sampled around it and their peak RSS read after it, UDP packet rate at 1420-byte packets,
 * ping RTT on the idle tunnel, bring it down.
 */
import { sleep } from "../../test/support/netns.js";
import { pingRtts, startIperfServer, tcp, udp } from "./iperf.js";
import { BenchNet } from "./netns.js";
import type { BenchOptions } from "./options.js";
import { BASELINE_ID, PAIRINGS, type Pairing } from "./pairings.js";
import { cpuSeconds, memory } from "./proc.js";
import { max, median } from "./stats.js";
import { TunnelPair } from "./tunnel-pair.js";

export interface PairingResult {
  readonly pairing: Pairing;
  readonly tcpBps: number[];
  readonly retransmits: number[];
  /** CPU seconds per GB carried, sender daemon and receiver daemon. */
  readonly cpuPerGbA: number[];
  readonly cpuPerGbB: number[];
  /** Peak RSS (VmHWM) after the TCP run, bytes. */
  readonly hwmA: number[];
  readonly hwmB: number[];
  readonly udpPps: number[];
  readonly rttMs: number[];
  /** RTTs of 100 pings 2 ms apart (daemons awake). */
  readonly rttBusyMs: number[];
  readonly errors: string[];
}

export interface SoakResult {
  readonly seconds: number;
  /** VmRSS samples (bytes), one a second, sender and receiver. */
  readonly rssA: number[];
  readonly rssB: number[];
  readonly bps: number;
}

export interface TunnelBenchResult {
  readonly results: PairingResult[];
  readonly soak: SoakResult | null;
}

export type Progress = (line: string) => void;

function emptyResult(pairing: Pairing): PairingResult {
  return {
    pairing,
    tcpBps: [],
    retransmits: [],
    cpuPerGbA: [],
    cpuPerGbB: [],
    hwmA: [],
    hwmB: [],
    udpPps: [],
    rttMs: [],
    rttBusyMs: [],
    errors: [],
  };
}

async function runOnce(
  net: BenchNet,
  opts: BenchOptions,
  r: PairingResult,
  progress: Progress,
): Promise<void> {
  const p = r.pairing;
  const tunnel = await TunnelPair.up(net, p.a, p.b, {
    nodeArgs: opts.nodeArgs,
    env: p.env,
    tree: p.tree,
  });
  try {
    await sleep(300);
    progress(`TCP ${opts.seconds} s`);
    const cpu0 = [cpuSeconds(tunnel.a.pid), cpuSeconds(tunnel.b.pid)];
    const t = await tcp(net, opts.seconds);
    const cpu1 = [cpuSeconds(tunnel.a.pid), cpuSeconds(tunnel.b.pid)];
    r.tcpBps.push(t.bitsPerSecond);
    r.retransmits.push(t.retransmits);
    const gb = t.totalBytes / 1e9;
    r.cpuPerGbA.push((cpu1[0] - cpu0[0]) / gb);
    r.cpuPerGbB.push((cpu1[1] - cpu0[1]) / gb);
    r.hwmA.push(memory(tunnel.a.pid).hwm);
    r.hwmB.push(memory(tunnel.b.pid).hwm);
    progress(`UDP ${opts.udpSeconds} s`);
    await sleep(300);
    r.udpPps.push((await udp(net, opts.udpSeconds)).receivedPps);
    progress("ping");
    await sleep(300);
    r.rttMs.push(...(await pingRtts(net, opts.pings)));
    r.rttBusyMs.push(...(await pingRtts(net, 100, 0.002)));
  } finally {
    await tunnel.down();
  }
}

async function soak(net: BenchNet, opts: BenchOptions, progress: Progress): Promise<SoakResult> {
  const tunnel = await TunnelPair.up(net, "wirespan", "wirespan", { nodeArgs: opts.nodeArgs });
  try {
    const rssA: number[] = [];
    const rssB: number[] = [];
    let done = false;
    const run = tcp(net, opts.soakSeconds).finally(() => {
      done = true;
    });
    for (let s = 0; !done && s <= opts.soakSeconds + 1; s++) {
      progress(`RSS soak wirespan → wirespan ${s}/${opts.soakSeconds} s`);
      rssA.push(memory(tunnel.a.pid).rss);
      rssB.push(memory(tunnel.b.pid).rss);
      await sleep(1000);
    }
    const t = await run;
    return { seconds: opts.soakSeconds, rssA, rssB, bps: t.bitsPerSecond };
  } finally {
    await tunnel.down();
  }
}

/** Runs the tunnel benchmark; needs root (network namespaces, TUN devices). */
export async function runTunnelBench(
  opts: BenchOptions,
  progress: Progress,
): Promise<TunnelBenchResult> {
  const net = new BenchNet();
  const results = opts.pairings.map(emptyResult);
  let soakResult: SoakResult | null = null;
  const cleanup = () => void net.teardown();
  process.once("SIGINT", cleanup);
  try {
    await net.setup();
    startIperfServer(net);
    await sleep(300);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const r of results) {
        const tag = `[round ${round}/${opts.rounds}] ${r.pairing.label}`;
        const step = (what: string) => progress(`${tag}: ${what}`);
        step("starting");
        try {
          await runOnce(net, opts, r, step);
        } catch (err) {
          r.errors.push(String(err instanceof Error ? err.message : err).split("\n")[0]);
          step(`failed: ${r.errors.at(-1)}`);
        }
      }
    }
    const wantsSoak = opts.soakSeconds > 0 && opts.pairings.some((p) => p.id === "ws-ws");
    if (wantsSoak) {
      try {
        soakResult = await soak(net, opts, progress);
      } catch (err) {
        progress(`soak failed: ${err}`);
      }
    }
  } finally {
    process.removeListener("SIGINT", cleanup);
    await net.teardown();
  }
  return { results, soak: soakResult };
}

const mbit = (bps: number) => (Number.isNaN(bps) ? "–" : (bps / 1e6).toFixed(0));
const mb = (bytes: number) => (Number.isNaN(bytes) ? "–" : (bytes / 2 ** 20).toFixed(0));
const fix = (v: number, d: number) => (Number.isNaN(v) ? "–" : v.toFixed(d));

/** The results as a Markdown table (plus the soak line), medians over all runs. */
export function formatTunnelTable(res: TunnelBenchResult): string {
  const base = res.results.find((r) => r.pairing.id === BASELINE_ID);
  const baseBps = base ? median(base.tcpBps) : Number.NaN;
  const lines = [
    "| pairing (a → b) | TCP Mbit/s (median) | runs | × wg-go↔wg-go | retrans | UDP kpps rx (1420 B) | ping RTT ms (50 ms apart) | ping RTT ms (2 ms apart) | CPU s/GB a | CPU s/GB b | peak RSS MB a / b |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of res.results) {
    const bps = median(r.tcpBps);
    const runs =
      r.tcpBps.map(mbit).join(", ") + (r.errors.length ? ` (${r.errors.length} failed)` : "");
    lines.push(
      `| ${r.pairing.label} | ${mbit(bps)} | ${runs} | ${fix(bps / baseBps, 2)} | ${fix(median(r.retransmits), 0)} | ${fix(median(r.udpPps) / 1e3, 1)} | ${fix(median(r.rttMs), 3)} | ${fix(median(r.rttBusyMs), 3)} | ${fix(median(r.cpuPerGbA), 2)} | ${fix(median(r.cpuPerGbB), 2)} | ${mb(max(r.hwmA))} / ${mb(max(r.hwmB))} |`,
    );
  }
  if (res.soak) {
    const s = res.soak;
    const at = (xs: number[], i: number) => mb(xs[Math.min(i, xs.length - 1)] ?? Number.NaN);
    lines.push(
      "",
      `RSS soak, wirespan → wirespan TCP for ${s.seconds} s at ${mbit(s.bps)} Mbit/s: ` +
        `sender ${at(s.rssA, 10)} MB at 10 s → ${at(s.rssA, s.rssA.length - 1)} MB at end (peak ${mb(max(s.rssA))}); ` +
        `receiver ${at(s.rssB, 10)} MB → ${at(s.rssB, s.rssB.length - 1)} MB (peak ${mb(max(s.rssB))}).`,
    );
  }
  const errs = res.results.flatMap((r) => r.errors.map((e) => `- ${r.pairing.label}: ${e}`));
  if (errs.length) lines.push("", "Failed runs:", ...errs);
  return lines.join("\n");
}

export { PAIRINGS };
