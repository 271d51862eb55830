/**
 * One start of a WireGuard daemon in a network namespace, measured (bench/footprint): the time
 * from exec to its UAPI socket answering `get=1` (reference §1.4: the moment `wg` and wg-quick
 * can configure it), the CPU it spent to get there, and its resident memory after idling.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { run, sleep } from "../../test/support/netns.js";

export const SOCK_DIR = "/var/run/wireguard";

/** A daemon under test: argv before the flags and the interface name. */
export interface Variant {
  readonly label: string;
  readonly argv: readonly string[];
  /** Extra environment (e.g. NODE_OPTIONS for a preload). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface Memory {
  /** VmRSS, RssAnon (heap, stacks, JIT code) and RssFile (mapped binaries), MB. */
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
}

export interface Start {
  /** exec → `get=1` answered, ms. */
  readonly ms: number;
  /** CPU time of the daemon (all threads) at that moment, ms; NaN when daemonising. */
  readonly cpuMs: number;
  /** Memory after the idle period. */
  readonly memory: Memory;
  /** PID of the daemon (for an explain run's /proc reading). */
  readonly pid: number;
}

/**
 * The environment every variant runs in: the caller's, without NODE_OPTIONS (vitest and pnpm
 * set flags there) and without NODE_EXTRA_CA_CERTS (set on this machine; Node then reads the CA
 * file at start, +60 ms CPU and +2 MB for every Node process — not what a user's daemon pays).
 */
export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (extra.NODE_OPTIONS === undefined) delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.WG_PROCESS_FOREGROUND;
  delete env.LOG_LEVEL;
  return env;
}

/** Whether the UAPI socket at `path` answers `get=1` with an errno line. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    let text = "";
    const done = (v: boolean) => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(2_000, () => done(false));
    c.once("connect", () => c.write("get=1\n\n"));
    c.on("data", (d) => {
      text += String(d);
      if (/errno=-?\d+\n\n$/.test(text)) done(true);
    });
    c.once("error", () => done(false));
    c.once("close", () => done(false));
  });
}

/** Polls until `path` answers; returns ms since `t0` (performance.now()), or throws at `limitMs`. */
async function untilAnswering(path: string, t0: number, limitMs: number): Promise<number> {
  for (;;) {
    if (await answers(path)) return performance.now() - t0;
    if (performance.now() - t0 > limitMs)
      throw new Error(`${path} did not answer in ${limitMs} ms`);
    await sleep(1);
  }
}

/** CPU time of every thread of `pid` in ms, from /proc/PID/task/TID/schedstat (ns on CPU). */
export function cpuMs(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    }
  } catch {
    return Number.NaN;
  }
  return ns / 1e6;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  };
  return { rss: mb("VmRSS"), anon: mb("RssAnon"), file: mb("RssFile") };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops `pid` with SIGTERM (SIGKILL after 5 s) and waits until it is gone. */
export async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const t0 = Date.now();
  while (alive(pid)) {
    if (Date.now() - t0 > 5_000) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await sleep(20);
  }
}

/** The processes left in namespace `ns`. */
async function pidsIn(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns]);
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * Starts `v` as interface `ifname` in namespace `ns` — in the foreground (`-f`), or letting it
 * daemonise itself — measures it, idles `idleMs`, reads its memory and stops it.
 * `ip netns exec` execs the command in place, so the spawned PID is the program's own.
 */
export async function startOnce(
  v: Variant,
  ns: string,
  ifname: string,
  foreground: boolean,
  idleMs: number,
  beforeStop?: (pid: number) => Promise<void>,
): Promise<Start> {
  const path = `${SOCK_DIR}/${ifname}.sock`;
  const argv = [...v.argv, ...(foreground ? ["-f"] : []), ifname];
  const t0 = performance.now();
  const child = spawn("ip", ["netns", "exec", ns, ...argv], {
    env: benchEnv(v.env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += String(d);
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let pid = child.pid as number;
  try {
    const ms = await Promise.race([
      untilAnswering(path, t0, 60_000),
      exited.then(async (code) => {
        if (foreground || code !== 0) throw new Error(`${v.label} exited ${code}: ${err}`);
        return untilAnswering(path, t0, 60_000);
      }),
    ]);
    const cpu = foreground ? cpuMs(pid) : Number.NaN;
    if (!foreground) {
      await exited; // a launcher may answer first and exit just after
      const left = await pidsIn(ns);
      if (left.length !== 1) throw new Error(`${v.label}: ${left.length} processes in ${ns}`);
      pid = left[0];
    }
    await sleep(idleMs);
    const memory = memoryOf(pid);
    if (beforeStop) await beforeStop(pid);
    return { ms, cpuMs: cpu, memory, pid };
  } finally {
    await stopPid(pid);
    if (foreground) await exited;
    await run(["rm", "-f", path]);
  }
}
