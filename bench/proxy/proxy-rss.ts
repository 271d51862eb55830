/**
 * Proxy memory (issue #9), as root: VmRSS of `wirespan proxy` idle, holding N concurrent SOCKS5
 * connections (each echoed 1 KiB through the tunnel, then held open), after they are closed, and
 * holding N again (no growth = nothing left behind by the first N) —
 * the published bin (packages/mesh/dist/bin, what users run; `pnpm build` first) next to the workspace
 * launcher (sources through tsx), rounds interleaved. wireguard-go with a kernel-TCP echo in
 * namespace b, the proxy on the netstack in namespace a.
 * Usage: pnpm exec tsx bench/proxy/proxy-rss.ts [N=1000] [ROUNDS=3] [--also LABEL=FILE]
 * Prints a Markdown table (append it to bench/RESULTS.md).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsPair, sleep, waitFor } from "../../test/support/netns.js";
import { genkey, startInterface } from "../../test/support/wg.js";
import { findProcess, memory } from "../tunnel/proc.js";

const ROOT = join(import.meta.dirname, "../..");
const DIST = join(ROOT, "packages/mesh/dist/bin/wirespan.js");
const args = process.argv.slice(2);
/** `--also LABEL=FILE`: another wirespan JavaScript entry (a build of the commit before a change). */
const also = args.indexOf("--also");
const VARIANTS: Record<string, readonly string[]> = {
  ...(also >= 0 ? { [args[also + 1].split("=")[0]]: ["node", args[also + 1].split("=")[1]] } : {}),
  dist: ["node", DIST],
  sources: [join(ROOT, "packages/mesh/bin/wirespan")],
};
if (also >= 0) args.splice(also, 2);
const PEER = join(ROOT, "test/support/proxy-peer.mjs");
const HOLD = Number(args[0] ?? 1000);
const ROUNDS = Number(args[1] ?? 3);
const SOCKS = 1080;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

/** VmRSS of `pid` in MB. */
const rssMb = (pid: number) => memory(pid).rss / 2 ** 20;

interface Sample {
  idle: number;
  busy: number;
  after: number;
  /** Holding the same number again: equal to `busy` when closed connections left nothing behind. */
  again: number;
}

async function main(): Promise<void> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`pnpm build\` first`);
  const net = new NetnsPair("wspr");
  await net.setup();
  const dir = mkdtempSync(join(tmpdir(), "wspr-"));
  net.paths.add(dir);
  const samples: Record<string, Sample[]> = Object.fromEntries(
    Object.keys(VARIANTS).map((k) => [k, [] as Sample[]]),
  );
  const loads: string[] = [load()];
  try {
    const prx = await genkey(dir);
    const { key: far } = await startInterface(net, "wireguard-go", net.b, "wspr0", {
      dir,
      listenPort: 51820,
      address: "198.19.0.1/24",
      peers: [{ pub: prx.pub, allowedIps: "198.19.0.3/32" }],
    });
    const echo = net.spawn(net.b, ["node", PEER, "echo", "198.19.0.1", "7"]);
    await waitFor("echo", () => echo.output().includes("ready"), 15_000);
    const conf = join(dir, "proxy.conf");
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${prx.key}\nAddress = 198.19.0.3/32\n\n[Peer]\nPublicKey = ${far.pub}\nEndpoint = ${net.underlay4.b}:51820\nAllowedIPs = 198.19.0.1/32\nPersistentKeepalive = 25\n\n[Socks5]\nBindAddress = 127.0.0.1:${SOCKS}\n`,
    );
    /** `n` connections through SOCKS5, held until the returned function is called. */
    const hold = async (n: number): Promise<() => Promise<void>> => {
      const argv = ["netns", "exec", net.a, "node", PEER, "hold", String(SOCKS), "198.19.0.1"];
      const holder = spawn("ip", [...argv, "7", String(n)], { stdio: ["pipe", "pipe", "inherit"] });
      let out = "";
      holder.stdout.on("data", (d) => {
        out += d;
      });
      await waitFor(`${n} connections held`, () => out.includes("held"), 300_000, 200);
      return async () => {
        const gone = new Promise((r) => holder.once("exit", r));
        holder.stdin.end();
        await gone;
      };
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, argv] of Object.entries(VARIANTS) as [
        keyof typeof VARIANTS,
        readonly string[],
      ][]) {
        const proxy = net.spawn(net.a, [...argv, "proxy", "-c", conf]);
        await waitFor("proxy", () => proxy.output().includes("wirespan proxy: started"), 60_000);
        await (await hold(1))(); // handshake and first connection: what any use costs
        await sleep(2_000);
        const pid = findProcess(proxy.child.pid as number, "node") ?? Number.NaN;
        const idle = rssMb(pid);
        const release = await hold(HOLD);
        const busy = rssMb(pid);
        await release();
        await sleep(5_000);
        const after = rssMb(pid);
        const releaseAgain = await hold(HOLD);
        const again = rssMb(pid);
        await releaseAgain();
        samples[name].push({ idle, busy, after, again });
        loads.push(load());
        const line = [idle, busy, after, again].map((x) => x.toFixed(1)).join(" / ");
        process.stderr.write(`round ${round + 1} ${name}: ${line} MB (load ${load()})\n`);
        await net.stop(proxy);
      }
    }
    const row = (name: string, what: string) => {
      const s = samples[name];
      const col = (k: keyof Sample) =>
        `${median(s.map((x) => x[k])).toFixed(1)} (${s.map((x) => x[k].toFixed(0)).join(", ")})`;
      return `| ${what} | ${col("idle")} | ${col("busy")} | ${col("after")} | ${col("again")} |`;
    };
    const out = [
      `### Proxy RSS (issue #9): idle, ${HOLD} concurrent SOCKS5 connections, after closing them, holding ${HOLD} again — ${ROUNDS} rounds interleaved`,
      "",
      `\`pnpm exec tsx bench/proxy/proxy-rss.ts ${process.argv.slice(2).join(" ")}\`; load average (1/5/15 min) at the start ${loads[0]}, at the end ${loads[loads.length - 1]}.`,
      "",
      "| proxy | idle MB, median (rounds) | holding MB | 5 s after closing MB | holding again MB |",
      "|---|---:|---:|---:|---:|",
      ...Object.keys(VARIANTS)
        .filter((k) => k !== "dist" && k !== "sources")
        .map((k) => row(k, `${k}: \`${VARIANTS[k].join(" ")}\``)),
      row("dist", "published bin (`node packages/mesh/dist/bin/wirespan.js proxy`, the bundle)"),
      row("sources", "workspace launcher (sources through tsx)"),
    ].join("\n");
    process.stdout.write(`${out}\n`);
  } finally {
    await net.release();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`proxy RSS bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
