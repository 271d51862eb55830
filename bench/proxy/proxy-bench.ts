/**
 * Proxy benchmark (issue #9), as root, one run, side by side: wireguard-go in namespace `b`
 * (kernel TCP behind it, a sink and an echo on 198.19.0.1) and, in namespace `a`, both
 * wirespan-wg on a TUN (198.19.0.2, the kernel path) and `wirespan proxy` on the netstack
 * (198.19.0.3) with a SOCKS5 port and a TCP client tunnel. Measures:
 *   - one TCP stream a → b (BYTES, medians of ROUNDS, interleaved): TUN path, SOCKS5, tunnel;
 *   - the proxy's RSS idle, and holding 1,000 concurrent SOCKS5 connections.
 * Usage: node --conditions=@wirespan/source --import tsx bench/proxy/proxy-bench.ts [BYTES] [ROUNDS]
 * Prints a Markdown table (append it to bench/RESULTS.md).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsPair, waitFor } from "../../test/support/netns.js";
import { genkey, startInterface } from "../../test/support/wg.js";
import { findProcess, memory } from "../tunnel/proc.js";

const ROOT = join(import.meta.dirname, "../..");
const WIRESPAN = join(ROOT, "packages/mesh/bin/wirespan");
const PEER = join(ROOT, "test/support/proxy-peer.mjs");
const BYTES = Number(process.argv[2] ?? 200_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const SOCKS = 1080;
const TUNNEL = 2000;
const HOLD = 1000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** VmRSS of `pid` in MB. */
const rssMb = (pid: number) => memory(pid).rss / 2 ** 20;

async function main(): Promise<void> {
  const net = new NetnsPair("wspb");
  await net.setup();
  const dir = mkdtempSync(join(tmpdir(), "wspb-"));
  net.paths.add(dir);
  try {
    const far = await genkey(dir);
    const tun = await genkey(dir);
    const prx = await genkey(dir);
    await startInterface(net, "wireguard-go", net.b, "wspb0", {
      dir,
      key: far,
      listenPort: 51820,
      address: "198.19.0.1/24",
      peers: [
        { pub: tun.pub, allowedIps: "198.19.0.2/32", endpoint: `${net.underlay4.a}:51821` },
        { pub: prx.pub, allowedIps: "198.19.0.3/32" },
      ],
    });
    await startInterface(net, "wirespan", net.a, "wspb1", {
      dir,
      key: tun,
      listenPort: 51821,
      address: "198.19.0.2/24",
      peers: [{ pub: far.pub, allowedIps: "198.19.0.1/32", endpoint: `${net.underlay4.b}:51820` }],
    });
    for (const [mode, port] of [
      ["sink", "5001"],
      ["echo", "7"],
    ]) {
      const d = net.spawn(net.b, ["node", PEER, mode, "198.19.0.1", port]);
      await waitFor(mode, () => d.output().includes("ready"), 15_000);
    }
    const conf = join(dir, "proxy.conf");
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${prx.key}\nAddress = 198.19.0.3/32\n\n[Peer]\nPublicKey = ${far.pub}\nEndpoint = ${net.underlay4.b}:51820\nAllowedIPs = 198.19.0.1/32\nPersistentKeepalive = 25\n\n[Socks5]\nBindAddress = 127.0.0.1:${SOCKS}\n\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:${TUNNEL}\nTarget = 198.19.0.1:5001\n`,
    );
    const proxy = net.spawn(net.a, [WIRESPAN, "proxy", "-c", conf]);
    await waitFor("proxy", () => proxy.output().includes("wirespan proxy: started"), 30_000);
    const send = async (args: string[]) => {
      const r = await net.exec(net.a, ["node", PEER, "send", ...args], { timeout: 300_000 });
      if (r.code !== 0) throw new Error(`send ${args.join(" ")}: ${r.stderr}`);
      const { bytes, ms } = JSON.parse(r.stdout) as { bytes: number; ms: number };
      return (bytes * 8) / (ms / 1000) / 1e6;
    };
    // Warm-up: handshakes on both paths.
    await send(["198.19.0.1", "5001", "1000000"]);
    await send(["198.19.0.1", "5001", "1000000", String(SOCKS)]);
    const pid = findProcess(proxy.child.pid as number, "node") ?? Number.NaN;
    const idle = rssMb(pid);
    const runs: Record<string, number[]> = { tun: [], socks5: [], tunnel: [] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.tun.push(await send(["198.19.0.1", "5001", String(BYTES)]));
      runs.socks5.push(await send(["198.19.0.1", "5001", String(BYTES), String(SOCKS)]));
      runs.tunnel.push(await send(["127.0.0.1", String(TUNNEL), String(BYTES)]));
    }
    const holder = spawn(
      "ip",
      [
        "netns",
        "exec",
        net.a,
        "node",
        PEER,
        "hold",
        String(SOCKS),
        "198.19.0.1",
        "7",
        String(HOLD),
      ],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    let held = "";
    holder.stdout.on("data", (d) => {
      held += d;
    });
    await waitFor("connections held", () => held.includes("held"), 180_000, 200);
    const busy = rssMb(pid);
    holder.stdin.end();
    const tunMed = median(runs.tun);
    const row = (name: string, xs: number[]) =>
      `| ${name} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(", ")} | ${(median(xs) / tunMed).toFixed(2)}× |`;
    const out = [
      `### Proxy (issue #9): one TCP stream a → b, ${BYTES / 1e6} MB, ${ROUNDS} rounds interleaved`,
      "",
      "| path | median Mbit/s | rounds | vs TUN |",
      "|---|---:|---|---:|",
      row("wirespan-wg TUN (kernel TCP both ends)", runs.tun),
      row("wirespan proxy SOCKS5 (netstack)", runs.socks5),
      row("wirespan proxy TCP client tunnel (netstack)", runs.tunnel),
      "",
      `Proxy RSS: idle ${idle.toFixed(1)} MB; holding ${HOLD} concurrent SOCKS5 connections ${busy.toFixed(1)} MB.`,
    ].join("\n");
    process.stdout.write(`${out}\n`);
  } finally {
    await net.release();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`proxy bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
