/**
 * Relayed vs direct, same run (issue #12): two `wirespan up` nodes behind cone NATs in the NAT
 * lab (test/support/nat-netns.ts) with discovery + STUN and a relay on the WAN bridge.
 *
 * - time from the nodes running (control sockets up) to the direct path;
 * - rounds alternating direct / relayed: node 2's router drops its outbound UDP to force the
 *   relay, and stops to let the path go direct again; per round one iperf3 TCP stream
 *   n1 → n2 through the tunnel and ping RTT; medians per path;
 * - relay CPU seconds per Gbit carried (its /proc utime + stime over the relayed rounds).
 *
 * Run as root: `node --conditions=@wirespan/source --import tsx bench/nat/relay-vs-direct.ts
 * [--rounds N] [--seconds S] [--tls] [--bin PATH] [--profile DIR] [--relay-rate BYTES]`. Prints a Markdown table for
 * bench/RESULTS.md. `--tls`: the relay serves wss:// with a self-signed certificate the nodes
 * trust (NODE_EXTRA_CA_CERTS), as deployed. `--bin PATH`: the `wirespan` launcher of another
 * checkout (a before/after comparison runs the two alternately).
 * `--profile DIR`: the relay and both nodes run with `--cpu-prof` into DIR (V8 .cpuprofile files,
 * written when they stop at the end) and only relayed rounds run.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  controlRequest,
  controlSocketPath,
} from "../../packages/mesh/src/kubespan/control-socket.js";
import { formatClusterToken, relayToken } from "../../packages/mesh/src/relay/protocol.js";
import { DiscoveryIp, NatLab, type NatNode, RelayIp } from "../../test/support/nat-netns.js";
import { type Daemon, RunId, waitFor } from "../../test/support/netns.js";
import { selfSignedCert } from "../../test/support/self-signed.js";
import { cpuSeconds, findProcess } from "../tunnel/proc.js";
import { median } from "../tunnel/stats.js";

const root = resolve(import.meta.dirname, "../..");
const text = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const arg = (name: string, def: number) => Number(text(name) ?? def);
const wirespan = resolve(text("--bin") ?? join(root, "packages/mesh/bin/wirespan"));
const Tls = process.argv.includes("--tls");
const Rounds = arg("--rounds", 3);
const Seconds = arg("--seconds", 5);
/** The relay's per-node rate limit, bytes/s (0: its default, 1 Gbit/s). */
const RelayRate = arg("--relay-rate", 0);
const profile = text("--profile");
const ProfileDir = profile === undefined ? null : resolve(profile);
/** How the relay and the nodes start: under V8's CPU profiler when profiling. */
const daemon = ProfileDir
  ? ["node", "--cpu-prof", `--cpu-prof-dir=${ProfileDir}`, wirespan]
  : [wirespan];
const n1: NatNode = { i: 1, nat: "cone" };
const n2: NatNode = { i: 2, nat: "cone" };

async function main(): Promise<void> {
  const lab = new NatLab();
  const base = mkdtempSync(join(tmpdir(), "wsn-bench-"));
  lab.paths.add(base);
  const cluster = {
    id: randomBytes(32).toString("base64"),
    secret: randomBytes(32).toString("base64"),
  };
  const relayUrl = `${Tls ? "wss" : "ws"}://${RelayIp}:8443/wirespan/relay`;
  const cert = Tls ? selfSignedCert(base, RelayIp) : null;
  const tlsArgs = cert ? ["--tls-cert", cert.cert, "--tls-key", cert.key] : [];
  const nodeEnv = cert ? { ...process.env, NODE_EXTRA_CA_CERTS: cert.cert } : process.env;
  try {
    await lab.setup([n1, n2]);
    mkdirSync(join(base, "uapi"));
    lab.spawn(lab.wanNs, [
      wirespan,
      "discovery",
      "serve",
      "--listen",
      `${DiscoveryIp}:3000`,
      "--stun-listen",
      `${DiscoveryIp}:3478`,
    ]);
    const token = formatClusterToken(cluster.id, relayToken(Buffer.from(cluster.secret, "base64")));
    const relay = lab.spawn(lab.wanNs, [
      ...daemon,
      "relay",
      "serve",
      "--listen",
      `${RelayIp}:8443`,
      "--cluster-token",
      token,
      "--stun-port",
      "3478",
      ...(RelayRate > 0 ? ["--rate", String(RelayRate)] : []),
      ...tlsArgs,
    ]);
    await waitFor("relay", () => relay.output().includes("relay listening"), 90_000);
    const state = (i: number) => join(base, `n${i}`);
    const nodes: Daemon[] = [];
    for (const i of [1, 2]) {
      mkdirSync(state(i));
      writeFileSync(
        join(base, `n${i}.yaml`),
        JSON.stringify({
          machine: {
            network: {
              hostname: `node-${i}`,
              kubespan: {
                enabled: true,
                interface: `wsn${RunId}b${i}`,
                stunServers: [`${DiscoveryIp}:3478`, `${RelayIp}:3478`],
                relays: [relayUrl],
              },
            },
          },
          cluster: {
            ...cluster,
            discovery: {
              enabled: true,
              registries: { service: { endpoint: `http://${DiscoveryIp}:3000` } },
            },
          },
        }),
      );
      nodes.push(
        lab.spawn(
          lab.nodeNs(i),
          [
            ...daemon,
            "up",
            "--config",
            join(base, `n${i}.yaml`),
            "--state-dir",
            state(i),
            "--uapi-dir",
            join(base, "uapi"),
          ],
          nodeEnv,
        ),
      );
    }
    const ula = new Map<number, string>();
    for (const i of [1, 2]) {
      await waitFor(
        `node ${i}`,
        async () =>
          (await controlRequest(controlSocketPath(state(i)), { kind: "identities" })).length === 1,
        60_000,
      );
      const id = (await controlRequest(controlSocketPath(state(i)), { kind: "identities" }))[0]
        .spec;
      ula.set(i, (id.address as string).replace(/\/128$/, ""));
    }
    const path = async (i: number) =>
      (await controlRequest(controlSocketPath(state(i)), { kind: "peerstatuses" }))[0]?.spec.path as
        | string
        | undefined;
    const both = async (p: string) => (await path(1)) === p && (await path(2)) === p;
    const t0 = Date.now();
    await waitFor("direct", () => both("direct"), 60_000, 100);
    const toDirect = Date.now() - t0;

    lab.spawn(lab.nodeNs(2), ["iperf3", "-s", "-p", "5291"]);
    await new Promise((r) => setTimeout(r, 500));
    const relayPid = findProcess(relay.child.pid as number, "node");
    const results: Record<
      "direct" | "relayed",
      { bps: number[]; rtt: number[]; switchMs: number[] }
    > = {
      direct: { bps: [], rtt: [], switchMs: [] },
      relayed: { bps: [], rtt: [], switchMs: [] },
    };
    // CPU seconds of the sending node, the receiving node and the relay, and bits carried, per path.
    const pids = [
      findProcess(nodes[0].child.pid as number, "node"),
      findProcess(nodes[1].child.pid as number, "node"),
      relayPid,
    ];
    const cpu = { direct: [0, 0, 0], relayed: [0, 0, 0] };
    const bits = { direct: 0, relayed: 0 };
    for (let r = 0; r < Rounds; r++) {
      for (const kind of ProfileDir ? (["relayed"] as const) : (["direct", "relayed"] as const)) {
        const t = Date.now();
        await lab.setRouterRules({ ...n2, udpBlocked: kind === "relayed" });
        await waitFor(kind, () => both(kind), 60_000, 100);
        results[kind].switchMs.push(Date.now() - t);
        const ping = await lab.must(lab.nodeNs(1), [
          "ping",
          "-6",
          "-c",
          "10",
          "-i",
          "0.2",
          ula.get(2) as string,
        ]);
        const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(ping)?.[1]);
        const cpu0 = pids.map((pid) => (pid ? cpuSeconds(pid) : Number.NaN));
        const out = await lab.must(
          lab.nodeNs(1),
          [
            "iperf3",
            "-c",
            ula.get(2) as string,
            "-p",
            "5291",
            "-J",
            "-O",
            "1",
            "-t",
            String(Seconds),
          ],
          { timeout: (Seconds + 30) * 1000 },
        );
        const j = JSON.parse(out) as {
          end: { sum_received: { bits_per_second: number; bytes: number } };
        };
        results[kind].bps.push(j.end.sum_received.bits_per_second);
        results[kind].rtt.push(avg);
        pids.forEach((pid, k) => {
          cpu[kind][k] += (pid ? cpuSeconds(pid) : Number.NaN) - cpu0[k];
        });
        bits[kind] += j.end.sum_received.bytes * 8;
      }
    }
    const metrics = await lab.must(lab.wanNs, [
      "curl",
      "-sk",
      `${Tls ? "https" : "http"}://${RelayIp}:8443/metrics`,
    ]);
    const drops = metrics
      .split("\n")
      .filter((l) => l.startsWith("wirespan_relay_dropped") && !l.endsWith(" 0"))
      .join(", ");
    // SIGTERM: the daemons exit normally, so --cpu-prof writes its profiles.
    for (const daemon of [relay, ...nodes]) await lab.stop(daemon);
    const d = results.direct;
    const rl = results.relayed;
    const mbit = (v: number[]) => (median(v) / 1e6).toFixed(0);
    console.log(`
| path | TCP Mbit/s (median of ${Rounds}) | ping RTT ms (median) | switch to it, ms (median) |
|---|---:|---:|---:|
| direct | ${mbit(d.bps)} | ${median(d.rtt).toFixed(3)} | ${median(d.switchMs)} |
| relayed | ${mbit(rl.bps)} | ${median(rl.rtt).toFixed(3)} | ${median(rl.switchMs)} |

| CPU-s per Gbit carried | sender node | receiver node | relay |
|---|---:|---:|---:|
${(["direct", "relayed"] as const).map((k) => `| ${k} | ${cpu[k].map((c) => (c / (bits[k] / 1e9)).toFixed(2)).join(" | ")} |`).join("\n")}

relay ${relayUrl}; relayed / direct TCP: ${(median(rl.bps) / median(d.bps)).toFixed(2)}x; relay drops: ${drops || "none"}; time from both nodes running to the direct path (cone NATs): ${toDirect} ms; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`);
  } finally {
    await lab.teardown();
  }
}

await main();
