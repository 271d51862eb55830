/**
 * `pnpm bench:footprint` (root): start-up time and idle memory of wirespan-wg next to
 * wireguard-go in one run (issue #10's measured targets, #11 item 3), with Node's floor — the
 * smallest Node program that answers on a UAPI socket (floor.mjs) — and the idle `wirespan proxy`
 * (issue #9). Variants run interleaved round by round; medians are printed as Markdown.
 *
 *   start-up, foreground: exec of `BIN -f IF` → the UAPI socket answers `get=1`; and the CPU
 *                         time the daemon used to get there (steadier than wall time on a
 *                         loaded machine);
 *   start-up, daemonising: exec of `BIN IF` (it forks/re-execs itself) → `get=1` answered;
 *   idle RSS:            VmRSS (RssAnon + RssFile) of the foreground daemon after --idle s.
 *
 * Options: --rounds N (5), --idle S (5), --explain (one traced start of each Node variant: smaps
 * by mapping, V8 heap/code, built-ins, files read per package), --also LABEL=FILE (another
 * wirespan-wg JavaScript entry, e.g. a build of the commit before a change, with Node flags
 * before it: --also 'semi-1=--max-semi-space-size=1 packages/mesh/dist/cli/wirespan-wg.js'),
 * --no-proxy.
 * Runs the compiled packages (`pnpm build` first — the package script does it).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { must, run, sleep } from "../../test/support/netns.js";
import { privilegedSkipReason } from "../../test/support/privileged.js";
import { median } from "../tunnel/stats.js";
import { explain } from "./explain.js";
import {
  benchEnv,
  cpuMs,
  memoryOf,
  type Start,
  startOnce,
  stopPid,
  type Variant,
} from "./probe.js";

const ROOT = join(import.meta.dirname, "../..");
const WG_BIN = join(ROOT, "packages/mesh/dist/bin/wirespan-wg.js");
const CLI_BIN = join(ROOT, "packages/mesh/dist/bin/wirespan.js");

interface Options {
  rounds: number;
  idleMs: number;
  explain: boolean;
  proxy: boolean;
  also: Variant[];
}

function parse(argv: readonly string[]): Options {
  const o: Options = { rounds: 5, idleMs: 5_000, explain: false, proxy: true, also: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--rounds") o.rounds = Number(value());
    else if (a === "--idle") o.idleMs = Number(value()) * 1000;
    else if (a === "--explain") o.explain = true;
    else if (a === "--no-proxy") o.proxy = false;
    else if (a === "--also") {
      const text = value();
      const eq = text.indexOf("=");
      const rest = text
        .slice(eq + 1)
        .split(" ")
        .filter(Boolean);
      if (eq < 1 || rest.length === 0) throw new Error("--also 'LABEL=[NODE-FLAGS …] FILE'");
      o.also.push({ label: text.slice(0, eq), argv: ["node", ...rest] });
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(o.rounds >= 1) || !(o.idleMs >= 1000)) throw new Error("--rounds ≥ 1, --idle ≥ 1");
  return o;
}

/**
 * `wirespan proxy` idle: a client config whose peer is never contacted (no keepalive, no
 * traffic), a SOCKS5 listener; start-up = exec → "started" on stdout.
 */
async function proxyOnce(dir: string, idleMs: number): Promise<Start> {
  const { spawn } = await import("node:child_process");
  const conf = join(dir, "proxy.conf");
  const key = (await must(["wg", "genkey"])).trim();
  const peer = (
    await must(["wg", "pubkey"], { input: `${(await must(["wg", "genkey"])).trim()}\n` })
  ).trim();
  writeFileSync(
    conf,
    `[Interface]\nPrivateKey = ${key}\nAddress = 198.19.0.3/32\n\n[Peer]\nPublicKey = ${peer}\nEndpoint = 198.18.0.1:51820\nAllowedIPs = 198.19.0.1/32\n\n[Socks5]\nBindAddress = 127.0.0.1:0\n`,
    { mode: 0o600 },
  );
  const t0 = performance.now();
  const child = spawn("node", [CLI_BIN, "proxy", "-c", conf], {
    env: benchEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const started = new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += String(d);
      if (out.includes("started")) resolve(performance.now() - t0);
    });
    child.stderr.on("data", (d) => {
      out += String(d);
    });
    child.on("exit", (code) => reject(new Error(`proxy exited ${code}: ${out}`)));
  });
  const pid = child.pid as number;
  try {
    const ms = await started;
    const cpu = cpuMs(pid);
    await sleep(idleMs);
    return { ms, cpuMs: cpu, memory: memoryOf(pid), pid };
  } finally {
    await stopPid(pid);
  }
}

const f0 = (x: number) => (Number.isNaN(x) ? "—" : x.toFixed(0));
const f1 = (x: number) => (Number.isNaN(x) ? "—" : x.toFixed(1));
const list = (xs: number[], f: (x: number) => string) => xs.map(f).join(" / ");

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (privilegedSkipReason !== null) {
    console.log(`bench:footprint needs root: it ${privilegedSkipReason}.`);
    return;
  }
  const variants: Variant[] = [
    { label: "wireguard-go", argv: ["wireguard-go"] },
    { label: "Node floor (floor.mjs)", argv: ["node", join(import.meta.dirname, "floor.mjs")] },
    { label: "wirespan-wg (published bin)", argv: ["node", WG_BIN] },
    ...o.also,
  ];
  const ns = `wsfp-${process.pid.toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "wsfp-"));
  await must(["ip", "netns", "add", ns]);
  let n = 0;
  const ifname = () => `wsfp${process.pid.toString(36)}${(n++).toString(36)}`.slice(0, 15);
  const uptime = async () => (await run(["uptime"])).stdout.trim().replace(/.*load/, "load");
  try {
    const loads: string[] = [await uptime()];
    const fg = new Map<string, Start[]>();
    const bg = new Map<string, Start[]>();
    const proxy: Start[] = [];
    for (let r = 0; r < o.rounds; r++) {
      for (const v of variants) {
        process.stderr.write(`round ${r + 1}/${o.rounds}: ${v.label}\n`);
        fg.set(v.label, [
          ...(fg.get(v.label) ?? []),
          await startOnce(v, ns, ifname(), true, o.idleMs),
        ]);
        // The floor has no daemonising mode of its own.
        if (v.argv[0] !== "node" || !v.argv[1].endsWith("floor.mjs"))
          bg.set(v.label, [
            ...(bg.get(v.label) ?? []),
            await startOnce(v, ns, ifname(), false, 200),
          ]);
      }
      if (o.proxy) proxy.push(await proxyOnce(dir, o.idleMs));
      loads.push(await uptime());
    }
    const rows = [
      "| daemon | start-up ms, foreground (median; rounds) | CPU ms to answer (median) | start-up ms, daemonising (median; rounds) | idle RSS MB (median; rounds) | RssAnon / RssFile MB (median) |",
      "|---|---|---:|---|---|---|",
    ];
    const row = (label: string, f: Start[], b: Start[] | undefined) =>
      rows.push(
        `| ${label} | **${f0(median(f.map((s) => s.ms)))}**; ${list(
          f.map((s) => s.ms),
          f0,
        )} | ${f0(median(f.map((s) => s.cpuMs)))} | ${
          b
            ? `**${f0(median(b.map((s) => s.ms)))}**; ${list(
                b.map((s) => s.ms),
                f0,
              )}`
            : "—"
        } | **${f1(median(f.map((s) => s.memory.rss)))}**; ${list(
          f.map((s) => s.memory.rss),
          f1,
        )} | ${f1(median(f.map((s) => s.memory.anon)))} / ${f1(median(f.map((s) => s.memory.file)))} |`,
      );
    for (const v of variants) row(v.label, fg.get(v.label) ?? [], bg.get(v.label));
    if (o.proxy)
      row('`wirespan proxy -c` (published bin; start-up = "started" printed)', proxy, undefined);
    const node = (await run(["node", "--version"])).stdout.trim();
    console.log(
      `\n${o.rounds} rounds interleaved, idle ${o.idleMs / 1000} s, Node ${node}, ${new Date().toISOString()}; ${loads.join(" → ")}\n\n${rows.join("\n")}\n`,
    );
    if (o.explain) {
      const nodeVariants = variants.filter((v) => v.argv[0] === "node");
      console.log(await explain(nodeVariants, ns, () => ifname(), o.idleMs));
    }
  } finally {
    await run(["ip", "netns", "del", ns]);
    await run(["rm", "-rf", dir]);
  }
}

await main();
