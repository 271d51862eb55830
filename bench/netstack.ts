/**
 * The netstack benchmark (root): single-stream TCP between the Linux kernel's stack behind
 * wireguard-go (namespace b) and, in namespace a, either a Device on the netstack or wirespan-wg
 * on a TUN with the kernel's TCP — the same client code (test/netstack/agent.ts, netstack or
 * node:net) and the same kernel services, rounds alternating, medians side by side; and, as the
 * reference userspace stack in C, slirp4netns (bench/slirp-path.ts; skipped with a message when
 * not installed). Then RSS growth for idle netstack connections and connections per second.
 *
 * `pnpm bench:netstack [--mb N] [--rounds R]
 *  [--idle N] [--rate N] [--profile FILE.cpuprofile] [--variant 'NAME={"ackPerBatch":false}']…
 *  [--no-slirp] [--append]`; `--idle 0`/`--rate 0` skip those parts; each --variant adds a netstack Device
 *  with that TCP tuning, measured in the same alternating rounds; `pnpm bench` runs it with its defaults as root.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { AgentProcess } from "../test/netstack/agent-process.js";
import { streamSha } from "../test/netstack/stream-data.js";
import { NetnsPair, waitFor } from "../test/support/netns.js";
import { genkey, startDaemon } from "../test/support/wg.js";
import { slirpAvailable, startSlirpPath } from "./slirp-path.js";
import { median } from "./tunnel/stats.js";

export interface NetstackBenchOptions {
  mb: number;
  rounds: number;
  idle: number;
  rate: number;
  /** Write a CPU profile of the netstack process's last download here (a .cpuprofile file). */
  profile?: string;
  /** Also measure slirp4netns (libslirp) as a reference userspace stack, when installed. */
  slirp: boolean;
  /** More netstack Devices with other TCP tuning (NetstackTunOptions.tcp), measured alongside. */
  variants?: Array<{ name: string; tcp: Record<string, unknown> }>;
}

const b64hex = (k: string) => Buffer.from(k, "base64").toString("hex");
const MB = 1 << 20;
const TUN_PATH = "wirespan-wg TUN + kernel TCP";
const SLIRP_PATH = "slirp4netns (libslirp) + kernel TCP, no tunnel, MTU 1420";

function header(o: NetstackBenchOptions): string {
  return `${o.rounds} rounds × ${o.mb} MB each way per path, alternating; single TCP stream; same client code (node:net vs the netstack's connect) and kernel services; medians; CPU = the application process's user+system time while receiving (for the netstack: WireGuard + TCP/IP + the application; for the other paths the application only); load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} at the end.`;
}

export async function runNetstackBench(
  o: NetstackBenchOptions,
  progress: (s: string) => void = () => {},
): Promise<string> {
  const lab = new NetnsPair("wsnb");
  const dir = mkdtempSync(join(tmpdir(), "wsnb-"));
  const agents: AgentProcess[] = [];
  try {
    await lab.setup();
    const [wg, ns, tun] = [await genkey(dir), await genkey(dir), await genkey(dir)];
    await startDaemon(lab, "wireguard-go", lab.b, "wsnb0");
    await lab.must(lab.b, [
      "wg",
      "set",
      "wsnb0",
      "private-key",
      wg.file,
      "listen-port",
      "51820",
      "peer",
      ns.pub,
      "allowed-ips",
      "198.19.0.2/32",
      "peer",
      tun.pub,
      "allowed-ips",
      "198.19.0.3/32",
    ]);
    await lab.must(lab.b, ["ip", "addr", "add", "198.19.0.1/24", "dev", "wsnb0"]);
    await lab.must(lab.b, ["ip", "link", "set", "wsnb0", "mtu", "1420", "up"]);
    const services = lab.spawn(lab.b, [
      "sh",
      "-c",
      `ulimit -n "$(ulimit -Hn)" && exec "${process.execPath}" --import tsx "${join(import.meta.dirname, "../test/netstack/kernel-services.ts")}"`,
    ]);
    await waitFor("kernel services", () => services.output().includes('"ready"'), 30_000);
    // The TUN path: wirespan-wg with the kernel's TCP in namespace a.
    await startDaemon(lab, "wirespan", lab.a, "wsnb1");
    await lab.must(lab.a, [
      "wg",
      "set",
      "wsnb1",
      "private-key",
      tun.file,
      "peer",
      wg.pub,
      "endpoint",
      `${lab.underlay4.b}:51820`,
      "allowed-ips",
      "198.19.0.0/24",
    ]);
    await lab.must(lab.a, ["ip", "addr", "add", "198.19.0.3/24", "dev", "wsnb1"]);
    await lab.must(lab.a, ["ip", "link", "set", "wsnb1", "mtu", "1420", "up"]);
    const netstack = new AgentProcess(lab.a, false);
    const kernel = new AgentProcess(lab.a, false, { AGENT_NET: "kernel" });
    agents.push(netstack, kernel);
    const tunnel = "198.19.0.1";
    const paths = [{ name: "netstack Device", agent: netstack, host: tunnel }];
    // Variants share the netstack's key and address: only one is connected at a time.
    const variants = (o.variants ?? []).map((v) => {
      const agent = new AgentProcess(lab.a, false, { AGENT_TCP: JSON.stringify(v.tcp) });
      agents.push(agent);
      return { name: `netstack Device, ${v.name}`, agent, host: tunnel };
    });
    await Promise.all(agents.map((a) => a.ready));
    paths.push(...variants);
    if (o.slirp && slirpAvailable()) {
      const agent = await startSlirpPath(lab, lab.a, 1420);
      agents.push(agent);
      // No tunnel on this path: the services are reached at their underlay address.
      paths.push({ name: SLIRP_PATH, agent, host: lab.underlay4.b });
    } else if (o.slirp) {
      progress(
        "netstack bench: slirp4netns not installed (apt-get install slirp4netns): row skipped",
      );
    }
    paths.push({ name: TUN_PATH, agent: kernel, host: tunnel });
    const bring = async (agent: AgentProcess, up: boolean) => {
      const peer = `public_key=${b64hex(wg.pub)}\n`;
      await agent.call("ipcSet", {
        text: up
          ? `set=1\nprivate_key=${b64hex(ns.key)}\n${peer}endpoint=${lab.underlay4.b}:51820\nallowed_ip=198.19.0.0/24\n\n`
          : `set=1\n${peer}remove=true\n\n`,
      });
    };
    let live: AgentProcess | null = null;
    /** Gives the netstack's identity to `agent` (wireguard-go then roams to its endpoint). */
    const use = async (agent: AgentProcess) => {
      if (agent === kernel || agent === live) return;
      if (live !== null) await bring(live, false);
      await bring(agent, true);
      live = agent;
    };
    const bytes = o.mb * MB;
    const seed = "bench";
    const sha = streamSha(seed, bytes);
    const up = new Map<string, number[]>();
    const down = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let r = 0; r < o.rounds; r++) {
      for (const p of paths) {
        progress(`netstack bench: round ${r + 1}/${o.rounds} ${p.name}`);
        await use(p.agent);
        const u = await p.agent.call<{ sha: string; ms: number }>("upload", {
          host: p.host,
          bytes,
          seed,
        });
        const profiling = o.profile !== undefined && p.agent === netstack && r === o.rounds - 1;
        if (profiling) await netstack.call("profileStart");
        const d = await p.agent.call<{ sha: string; ms: number; cpuMs: number }>("download", {
          host: p.host,
          bytes,
          seed,
        });
        if (profiling) await netstack.call("profileStop", { file: o.profile });
        if (u.sha !== sha || d.sha !== sha) throw new Error(`${p.name}: SHA-256 mismatch`);
        up.set(p.name, [...(up.get(p.name) ?? []), (bytes * 8) / (u.ms * 1000)]);
        down.set(p.name, [...(down.get(p.name) ?? []), (bytes * 8) / (d.ms * 1000)]);
        cpu.set(p.name, [...(cpu.get(p.name) ?? []), d.cpuMs / o.mb]);
      }
    }
    progress("netstack bench: throughput done");
    const rows = [
      "| path (ns a) ↔ kernel TCP (ns b; behind wireguard-go but for slirp4netns) | a → b Mbit/s | b → a Mbit/s | receiving process CPU ms/MB | conn/s |",
      "|---|---:|---:|---:|---:|",
    ];
    const base = TUN_PATH;
    for (const p of paths) {
      await use(p.agent);
      progress(`netstack bench: connections/s ${p.name}`);
      const rate =
        o.rate > 0
          ? await p.agent.call<{ perSecond: number }>("rate", { host: p.host, count: o.rate })
          : { perSecond: Number.NaN };
      const u = median(up.get(p.name)!);
      const d = median(down.get(p.name)!);
      const ratio = (x: number, b: number) => (p.name === base ? "" : ` (${(x / b).toFixed(2)}×)`);
      rows.push(
        `| ${p.name} | ${u.toFixed(0)}${ratio(u, median(up.get(base)!))} | ${d.toFixed(0)}${ratio(d, median(down.get(base)!))} | ${median(cpu.get(p.name)!).toFixed(1)} | ${Number.isNaN(rate.perSecond) ? "–" : rate.perSecond.toFixed(0)} |`,
      );
    }
    if (o.idle === 0) return [header(o), "", ...rows].join("\n");
    progress(`netstack bench: ${o.idle} idle connections`);
    await use(netstack);
    const idle = await netstack.call<{
      before: number;
      after: number;
      ms: number;
      opened: number;
      error: string | null;
    }>("idle", {
      host: tunnel,
      count: o.idle,
    });
    await netstack.call("closeIdle");
    const growth = (idle.after - idle.before) / MB;
    return [
      header(o),
      "",
      ...rows,
      "",
      `Netstack RSS growth for ${idle.opened} idle connections: ${growth.toFixed(1)} MB (${((growth * MB) / idle.opened / 1024).toFixed(1)} KiB each; opened in batches of 200 in ${(idle.ms / 1000).toFixed(1)} s)${idle.error ? `; ${o.idle - idle.opened} not opened: ${idle.error}` : ""}.`,
    ].join("\n");
  } finally {
    for (const a of agents) a.stop();
    await lab.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const table = await runNetstackBench(
    {
      mb: arg("mb", 50),
      rounds: arg("rounds", 3),
      idle: arg("idle", 10_000),
      rate: arg("rate", 300),
      slirp: !process.argv.includes("--no-slirp"),
      variants: process.argv.flatMap((a, i) => {
        if (a !== "--variant") return [];
        const [name, json] = process.argv[i + 1].split(/=(.*)/s);
        return [{ name, tcp: JSON.parse(json) }];
      }),
      profile: process.argv.includes("--profile")
        ? process.argv[process.argv.indexOf("--profile") + 1]
        : undefined,
    },
    (s) => process.stderr.write(`${s}\n`),
  );
  console.log(`\n${table}\n`);
  if (process.argv.includes("--append")) {
    appendFileSync(
      join(import.meta.dirname, "RESULTS.md"),
      `\n## ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC — netstack\n\n${table}\n`,
    );
  }
}
