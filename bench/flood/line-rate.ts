/**
 * Handshake flood at line rate (issue #11 item 1), in network namespaces, next to wireguard-go:
 *
 *   attacker A ── R responder ── L legitimate late peer
 *                 │
 *                 E established peer
 *
 * R, L and E run the same implementation (wireguard-go, or wirespan-wg of this or another
 * checkout). E has a session with R before the flood; then A floods R's port from one address
 * over many ports (valid mac1), from a /24 of addresses (valid mac1), or with garbage (invalid
 * mac1), as fast as one process can (test/support/flooder.ts). Two seconds into the flood L, which never spoke
 * to R, starts pinging R through its tunnel: time to its first reply is its time to handshake;
 * meanwhile E pings R every 50 ms: the loss is the established tunnel's. Medians of the rounds.
 *
 * Run alone (root): node --import tsx bench/flood/line-rate.ts [--rounds N] [--tree DIR]
 *   --tree DIR adds "wirespan (DIR)": the wirespan-wg of another checkout, for before/after.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Daemon, must, NetnsLab, sleep, waitFor } from "../../test/support/netns.js";
import { cpuSeconds, findProcess } from "../tunnel/proc.js";
import { median } from "../tunnel/stats.js";

const FLOODER = join(import.meta.dirname, "../../test/support/flooder.ts");
const WIRESPAN_WG = join(import.meta.dirname, "../../packages/mesh/bin/wirespan-wg");
const PORT = 51_971;
/** Underlay: R's side of each link is .1, the other end .2; the /24 flood comes from 198.18.74.x. */
const LINK = { a: "198.18.71", l: "198.18.72", e: "198.18.73" } as const;
const FLOOD_NET = "198.18.74";
const OVERLAY = { r: "198.19.71.1", l: "198.19.71.2", e: "198.19.71.3" } as const;
/** Long enough to cover a slow flooder start (measurement waits for the flood) and the pings. */
const FLOOD_SECONDS = 16;
const LEGIT_TIMEOUT_S = 11;

/** How the table was measured, for RESULTS.md. */
export const HOW =
  `A floods R's port for ${FLOOD_SECONDS} s with one process (test/support/flooder.ts: sendmmsg, ` +
  "no GSO): from one address over 64 ports, from 254 addresses of a /24, or garbage (invalid " +
  "mac1) from one address. 1 s after the flood reaches R, L (never seen by R) pings R every 200 ms through its tunnel: " +
  `seconds to the first reply ("never" = none within ${LEGIT_TIMEOUT_S} s); E, with a session ` +
  "from before the flood, pings R 200 times 50 ms apart: loss. R, L, E run the same implementation.";

export type Scenario = "one source" | "/24 of sources" | "garbage";
const SCENARIOS: readonly Scenario[] = ["one source", "/24 of sources", "garbage"];

interface Impl {
  readonly name: string;
  readonly argv: (ifname: string) => string[];
  readonly comm: string;
}

function impls(tree?: string): Impl[] {
  const list: Impl[] = [
    { name: "wireguard-go", argv: (i) => ["wireguard-go", "-f", i], comm: "wireguard-go" },
    {
      name: "wirespan",
      argv: (i) => [process.execPath, WIRESPAN_WG, "-f", i],
      comm: "node",
    },
  ];
  if (tree) {
    const bin = join(tree, "packages/mesh/bin/wirespan-wg");
    list.push({
      name: `wirespan (${tree})`,
      argv: (i) => [process.execPath, bin, "-f", i],
      comm: "node",
    });
  }
  return list;
}

export interface RoundResult {
  /** Seconds from L's first packet to its first reply; null: none within LEGIT_TIMEOUT_S. */
  handshake: number | null;
  /** Percent of E's pings lost during the flood. */
  loss: number;
  /** Initiations per second the flooder sent. */
  floodRate: number;
  /** CPU seconds per second of R's daemon during the flood. */
  cpu: number;
  /** Datagrams R's kernel delivered to sockets, and dropped for a full receive buffer. */
  received: number;
  kernelDrops: number;
  /** Length of the measurement window (L's handshake and E's pings), s. */
  seconds: number;
}

/** R's UDP counters (nstat, absolute values). */
async function udpCounters(net: FloodNet, ns: string): Promise<{ in: number; drops: number }> {
  const out = (await net.exec(ns, ["nstat", "-az", "UdpInDatagrams", "UdpRcvbufErrors"])).stdout;
  const v = (name: string) => Number(new RegExp(`${name}\\s+(\\d+)`).exec(out)?.[1] ?? Number.NaN);
  return { in: v("UdpInDatagrams"), drops: v("UdpRcvbufErrors") };
}

class FloodNet extends NetnsLab {
  ns = { r: "", a: "", l: "", e: "" };

  async setup(): Promise<void> {
    await this.removeStale();
    for (const k of ["r", "a", "l", "e"] as const) this.ns[k] = await this.addNamespace(k);
    for (const k of ["a", "l", "e"] as const) {
      const [rDev, oDev] = [`fl-r${k}`, `fl-${k}r`];
      await must([
        "ip",
        "link",
        "add",
        rDev,
        "netns",
        this.ns.r,
        "type",
        "veth",
        "peer",
        "name",
        oDev,
        "netns",
        this.ns[k],
      ]);
      await this.must(this.ns.r, ["ip", "addr", "add", `${LINK[k]}.1/24`, "dev", rDev]);
      await this.must(this.ns[k], ["ip", "addr", "add", `${LINK[k]}.2/24`, "dev", oDev]);
      await this.must(this.ns.r, ["ip", "link", "set", rDev, "up"]);
      await this.must(this.ns[k], ["ip", "link", "set", oDev, "up"]);
    }
    // The /24 the spread flood comes from, routed back to the attacker for cookie replies.
    const batch = Array.from(
      { length: 254 },
      (_, i) => `addr add ${FLOOD_NET}.${i + 1}/32 dev fl-ar`,
    );
    await this.must(this.ns.a, ["ip", "-batch", "-"], { input: `${batch.join("\n")}\n` });
    await this.must(this.ns.r, ["ip", "route", "add", `${FLOOD_NET}.0/24`, "via", `${LINK.a}.2`]);
  }
}

async function daemon(
  net: FloodNet,
  impl: Impl,
  ns: string,
  ifname: string,
  dir: string,
  which: string,
) {
  net.paths.add(`/var/run/wireguard/${ifname}.sock`);
  // Another run's cleanup may have removed the directory; daemons expect it.
  mkdirSync("/var/run/wireguard", { recursive: true, mode: 0o755 });
  const d = net.spawn(ns, impl.argv(ifname), { ...process.env, LOG_LEVEL: "error" });
  await waitFor(
    `${impl.name} ${ifname}`,
    async () => {
      if (d.child.exitCode !== null) throw new Error(`${impl.name} exited: ${d.output()}`);
      return (await net.exec(ns, ["wg", "show", ifname])).code === 0;
    },
    30_000,
  );
  const key = (await must(["wg", "genkey"])).trim();
  const pub = (await must(["wg", "pubkey"], { input: `${key}\n` })).trim();
  const keyFile = join(dir, `${which}.key`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  await net.must(ns, ["wg", "set", ifname, "private-key", keyFile, "listen-port", String(PORT)]);
  await net.must(ns, ["ip", "link", "set", ifname, "mtu", "1420", "up"]);
  const pid = findProcess(d.child.pid!, impl.comm);
  return { d, pub, ifname, pid };
}

async function round(net: FloodNet, impl: Impl, scenario: Scenario): Promise<RoundResult> {
  const dir = mkdtempSync(join(tmpdir(), "wsf-"));
  const started: Daemon[] = [];
  try {
    const r = await daemon(net, impl, net.ns.r, "wsfr0", dir, "r");
    const l = await daemon(net, impl, net.ns.l, "wsfl0", dir, "l");
    const e = await daemon(net, impl, net.ns.e, "wsfe0", dir, "e");
    started.push(r.d, l.d, e.d);
    await net.must(net.ns.r, ["ip", "addr", "add", `${OVERLAY.r}/24`, "dev", r.ifname]);
    for (const [x, k] of [
      [l, "l"],
      [e, "e"],
    ] as const) {
      await net.must(net.ns[k], ["ip", "addr", "add", `${OVERLAY[k]}/24`, "dev", x.ifname]);
      await net.must(net.ns.r, [
        "wg",
        "set",
        r.ifname,
        "peer",
        x.pub,
        "allowed-ips",
        `${OVERLAY[k]}/32`,
      ]);
      await net.must(net.ns[k], [
        "wg",
        "set",
        x.ifname,
        "peer",
        r.pub,
        "endpoint",
        `${LINK[k]}.1:${PORT}`,
        "allowed-ips",
        `${OVERLAY.r}/32`,
      ]);
    }
    await waitFor(
      "E's tunnel",
      async () => (await net.exec(net.ns.e, ["ping", "-c1", "-W1", OVERLAY.r])).code === 0,
      20_000,
      50,
    );

    const sources =
      scenario === "/24 of sources"
        ? Array.from({ length: 254 }, (_, i) => `${FLOOD_NET}.${i + 1}`)
        : [`${LINK.a}.2`];
    const perSource = scenario === "/24 of sources" ? 1 : 64;
    const mode = scenario === "garbage" ? "garbage" : "valid";
    const pubHex = Buffer.from(r.pub, "base64").toString("hex");
    const flooder = net.spawn(net.ns.a, [
      process.execPath,
      "--conditions=@wirespan/source",
      "--import",
      "tsx",
      FLOODER,
      `${LINK.a}.1`,
      String(PORT),
      pubHex,
      mode,
      String(FLOOD_SECONDS),
      String(perSource),
      ...sources,
    ]);
    // The flooder needs a while to start (tsx, sockets): measure once its flood reaches R.
    const before = await udpCounters(net, net.ns.r);
    await waitFor(
      "the flood to reach R",
      async () => {
        const now = await udpCounters(net, net.ns.r);
        return now.in + now.drops - before.in - before.drops > 20_000;
      },
      60_000,
      100,
    );
    await sleep(1_000);
    const udp0 = await udpCounters(net, net.ns.r);
    const cpu0 = r.pid === null ? Number.NaN : cpuSeconds(r.pid);
    const t0 = performance.now();
    // L pings every 200 ms until the first reply (-c 1): the run time is its time to handshake.
    const legitRun = net
      .exec(net.ns.l, [
        "ping",
        "-n",
        "-i",
        "0.2",
        "-w",
        String(LEGIT_TIMEOUT_S),
        "-c",
        "1",
        OVERLAY.r,
      ])
      .then((res) => (res.code === 0 ? (performance.now() - t0) / 1000 : null));
    const [handshake, established] = await Promise.all([
      legitRun,
      net.exec(net.ns.e, ["ping", "-n", "-i", "0.05", "-c", "200", "-W", "1", OVERLAY.r]),
    ]);
    const cpu =
      r.pid === null ? Number.NaN : (cpuSeconds(r.pid) - cpu0) / ((performance.now() - t0) / 1000);
    const udp1 = await udpCounters(net, net.ns.r);
    const seconds = (performance.now() - t0) / 1000;
    const lossMatch = /(\d+(?:\.\d+)?)% packet loss/.exec(established.stdout);
    await flooder.exited;
    const flood = JSON.parse(flooder.output().trim().split("\n").pop() ?? "{}") as {
      rate?: number;
    };
    return {
      handshake,
      loss: lossMatch ? Number(lossMatch[1]) : 100,
      floodRate: flood.rate ?? Number.NaN,
      cpu,
      seconds,
      received: udp1.in - udp0.in,
      kernelDrops: udp1.drops - udp0.drops,
    };
  } finally {
    for (const d of started) await net.stop(d);
    rmSync(dir, { recursive: true, force: true });
    await sleep(300);
  }
}

export interface LineRateResult {
  impl: string;
  scenario: Scenario;
  rounds: RoundResult[];
}

export async function runLineRateFlood(
  opts: { rounds: number; tree?: string; scenarios?: readonly Scenario[] },
  progress: (s: string) => void,
): Promise<LineRateResult[]> {
  const net = new FloodNet("wsf");
  const results: LineRateResult[] = [];
  try {
    await net.setup();
    for (const scenario of SCENARIOS.filter((s) => opts.scenarios?.includes(s) ?? true)) {
      for (const impl of impls(opts.tree)) results.push({ impl: impl.name, scenario, rounds: [] });
      // Implementations alternate within each round so that machine noise hits all alike.
      for (let i = 0; i < opts.rounds; i++) {
        for (const impl of impls(opts.tree)) {
          progress(`flood: ${scenario}, ${impl.name}, round ${i + 1}/${opts.rounds}`);
          const res = results.find((x) => x.impl === impl.name && x.scenario === scenario)!;
          res.rounds.push(await round(net, impl, scenario));
        }
      }
    }
  } finally {
    await net.teardown();
  }
  return results;
}

export function formatLineRate(results: LineRateResult[]): string {
  const rows = [
    "| flood (one attacking process, line rate) | implementation | legitimate peer's handshake, s (median; each round) | established tunnel ping loss % (median) | flood sent, datagrams/s | R's kernel: delivered / dropped (buffer full), datagrams/s | responder CPU, s/s |",
    "|---|---|---:|---:|---:|---:|---:|",
  ];
  const f = (x: number | null) => (x === null ? "never" : x.toFixed(1));
  const k = (xs: number[]) => Math.round(median(xs)).toLocaleString("en");
  for (const r of results) {
    const hs = r.rounds.map((x) => x.handshake);
    const ok = hs.filter((x): x is number => x !== null);
    // A round without a handshake counts as +∞ for the median.
    const sorted = [
      ...ok.sort((a, b) => a - b),
      ...hs.filter((x) => x === null).map(() => Number.POSITIVE_INFINITY),
    ];
    const mid = sorted[Math.floor((sorted.length - 1) / 2)];
    rows.push(
      `| ${r.scenario} | ${r.impl} | ${Number.isFinite(mid) ? mid.toFixed(1) : "never"} (${hs.map(f).join(", ")}) | ${median(r.rounds.map((x) => x.loss)).toFixed(1)} | ${k(r.rounds.map((x) => x.floodRate))} | ${k(r.rounds.map((x) => x.received / x.seconds))} / ${k(r.rounds.map((x) => x.kernelDrops / x.seconds))} | ${median(r.rounds.map((x) => x.cpu)).toFixed(2)} |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const rounds = Number(args[args.indexOf("--rounds") + 1]) || 3;
  const tree = args.includes("--tree") ? args[args.indexOf("--tree") + 1] : undefined;
  const only = args.includes("--scenario") ? args[args.indexOf("--scenario") + 1] : undefined;
  const scenarios = SCENARIOS.filter((s) => only === undefined || s === only);
  const res = await runLineRateFlood({ rounds, tree, scenarios }, (s) =>
    process.stderr.write(`${s}\n`),
  );
  console.log(formatLineRate(res));
}
