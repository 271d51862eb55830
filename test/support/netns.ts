/**
 * Network-namespace harness for privileged tests: `NetnsLab` owns a run's namespaces, the daemons
 * spawned inside them and the files to remove, and cleans everything up (processes first, since
 * a namespace lives on while a process is inside it). `NetnsPair` is two namespaces joined by a
 * veth pair; the mesh lab (mesh-netns.ts) builds a bridge of many on the same base.
 *
 * Namespace names are `<prefix>-<run>-<name>`, `<run>` being this process's PID in base 36:
 * namespace names are machine-wide and several runs of one suite may overlap (a developer's and
 * a CI clone's) — with fixed names one run's setup deleted the other's namespaces. Leftovers of
 * runs whose process is gone are removed at setup.
 *
 * Addresses only from the benchmarking range (198.18.0.0/15) and fd00::/8 (rules for tests).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { lockNames, unlockNames } from "./name-lock.js";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Milliseconds before the command is killed (default 15 s). */
  readonly timeout?: number;
  /** Data written to stdin. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a command and resolves with its exit code and output; never rejects on a nonzero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      argv[0],
      argv.slice(1),
      {
        timeout: opts.timeout ?? 15_000,
        maxBuffer: 16 << 20,
        env: opts.env ?? process.env,
        killSignal: "SIGKILL",
      },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          code = typeof e.code === "number" ? e.code : e.killed ? 124 : 1;
        }
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a command and throws (with its output) unless it exits 0; returns stdout. */
export async function must(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** Polls `cond` until it returns a truthy value or `timeout` ms pass. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeout = 10_000,
  interval = 100,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what}${last ? `: ${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A spawned long-running process with its captured output. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** This run's tag: the PID in base 36 (≤ 5 characters). */
export const RunId = process.pid.toString(36);

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The namespaces of one run under one prefix, their processes and the files to remove. */
export class NetnsLab {
  private readonly daemons = new Set<Daemon>();
  /** Deleted at teardown; a subclass may name its namespaces here before creating them. */
  protected readonly namespaces = new Set<string>();
  /** Files and directories (UAPI sockets, state) removed at teardown. */
  readonly paths = new Set<string>();

  constructor(readonly prefix: string) {}

  /** This run's name for namespace `name`. */
  nsName(name: string): string {
    return `${this.prefix}-${RunId}-${name}`;
  }

  /** Creates namespace `name` (see nsName) with lo up and no IPv6 DAD; returns its full name. */
  async addNamespace(name: string): Promise<string> {
    const ns = this.nsName(name);
    this.namespaces.add(ns);
    await must(["ip", "netns", "add", ns]);
    await this.must(ns, ["ip", "link", "set", "lo", "up"]);
    // No DAD: an IPv6 address is usable at once instead of after ~2 s of tentative state.
    await this.must(ns, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
    await this.must(ns, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    return ns;
  }

  /**
   * Joins `ns` to the bridge `bridge` in `bridgeNs` by a veth pair (`inside` in `ns`, `outside`
   * on the bridge) and gives the inside end `cidr`.
   */
  async linkToBridge(
    ns: string,
    inside: string,
    bridgeNs: string,
    bridge: string,
    outside: string,
    cidr: string,
  ): Promise<void> {
    await must([
      ...["ip", "link", "add", inside, "netns", ns, "type", "veth"],
      ...["peer", "name", outside, "netns", bridgeNs],
    ]);
    await this.must(bridgeNs, ["ip", "link", "set", outside, "master", bridge, "up"]);
    await this.must(ns, ["ip", "addr", "add", cidr, "dev", inside]);
    await this.must(ns, ["ip", "link", "set", inside, "up"]);
  }

  /** Runs `argv` inside namespace `ns`. */
  exec(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Runs `argv` inside `ns` and throws unless it exits 0; returns stdout. */
  must(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return must(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /**
   * Spawns a long-running process inside `ns`; it is killed during teardown. Its output is kept
   * in memory, the last `keep` characters of it (long runs would otherwise grow without bound).
   */
  spawn(
    ns: string,
    argv: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
    keep = Number.POSITIVE_INFINITY,
  ): Daemon {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const append = (d: unknown) => {
      out += String(d);
      if (out.length > 2 * keep) out = out.slice(-keep);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const exited = new Promise<number | string>((resolve) => {
      child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
    });
    const daemon: Daemon = { child, output: () => out, exited };
    this.daemons.add(daemon);
    void exited.then(() => this.daemons.delete(daemon));
    return daemon;
  }

  /** Stops a spawned daemon: SIGTERM, then SIGKILL after `grace` ms. */
  async stop(d: Daemon, grace = 5_000): Promise<void> {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return;
    d.child.kill("SIGTERM");
    const t = setTimeout(() => d.child.kill("SIGKILL"), grace);
    await d.exited;
    clearTimeout(t);
  }

  /** Kills a spawned daemon at once (a crash) and waits for it to end. */
  async kill(d: Daemon): Promise<void> {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return;
    d.child.kill("SIGKILL");
    await d.exited;
  }

  /**
   * Deletes this prefix's namespaces left by runs whose process is gone, and by an earlier lab of
   * this process (a PID reused after a killed run, or a second setup).
   */
  async removeStale(): Promise<void> {
    const list = await run(["ip", "netns", "list"]);
    const mine = new RegExp(`^${this.prefix}-([0-9a-z]+)-`);
    for (const line of list.stdout.split("\n")) {
      const name = line.split(" ")[0];
      const m = mine.exec(name);
      if (!m || (m[1] !== RunId && processAlive(Number.parseInt(m[1], 36)))) continue;
      await killInside(name);
      await run(["ip", "netns", "del", name]);
    }
  }

  /** Kills every process left in the namespaces, deletes them, removes registered paths. */
  async teardown(): Promise<void> {
    for (const d of [...this.daemons]) d.child.kill("SIGKILL");
    for (const ns of this.namespaces) await killInside(ns);
    for (const d of [...this.daemons]) await Promise.race([d.exited, sleep(2_000)]);
    for (const ns of this.namespaces) {
      if (existsSync(`/run/netns/${ns}`)) await run(["ip", "netns", "del", ns]);
    }
    for (const p of this.paths) rmSync(p, { recursive: true, force: true });
  }
}

async function killInside(ns: string): Promise<void> {
  const pids = await run(["ip", "netns", "pids", ns]);
  if (pids.code !== 0) return;
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Two namespaces `a` and `b` joined by a veth pair `<prefix>-va`/`<prefix>-vb` (inside the
 * namespaces, so the names need not be unique) with underlay 198.18.0.1/24 + fd00:18::1/64 and
 * 198.18.0.2/24 + fd00:18::2/64.
 */
export class NetnsPair extends NetnsLab {
  readonly a: string;
  readonly b: string;
  readonly veth: { readonly a: string; readonly b: string };
  readonly underlay4 = { a: "198.18.0.1", b: "198.18.0.2" } as const;
  readonly underlay6 = { a: "fd00:18::1", b: "fd00:18::2" } as const;
  /** UAPI socket paths to remove during cleanup (the same set as `paths`). */
  readonly sockets = this.paths;

  constructor(prefix: string) {
    super(prefix);
    this.a = this.nsName("a");
    this.b = this.nsName("b");
    // Known before setup, so teardown finds them even when a caller created them itself.
    this.namespaces.add(this.a).add(this.b);
    this.veth = { a: `${prefix}-va`, b: `${prefix}-vb` };
  }

  /**
   * Creates the namespaces. The interface names and UAPI sockets a suite uses inside them are
   * still machine-wide (/var/run/wireguard/NAME.sock), so first waits up to `lockTimeout` ms while
   * another run of the suite holds them (name-lock.ts).
   */
  async setup(lockTimeout = 150_000): Promise<void> {
    await lockNames(this.prefix, lockTimeout);
    await this.removeStale();
    const a = await this.addNamespace("a");
    const b = await this.addNamespace("b");
    await must([
      "ip",
      "link",
      "add",
      this.veth.a,
      "netns",
      a,
      "type",
      "veth",
      "peer",
      "name",
      this.veth.b,
      "netns",
      b,
    ]);
    for (const [ns, dev, v4, v6] of [
      [a, this.veth.a, this.underlay4.a, this.underlay6.a],
      [b, this.veth.b, this.underlay4.b, this.underlay6.b],
    ] as const) {
      await this.must(ns, ["ip", "addr", "add", `${v4}/24`, "dev", dev]);
      await this.must(ns, ["ip", "addr", "add", `${v6}/64`, "dev", dev, "nodad"]);
      await this.must(ns, ["ip", "link", "set", dev, "up"]);
    }
    await waitFor(
      "underlay ping",
      async () => (await this.exec(a, ["ping", "-c1", "-W1", this.underlay4.b])).code === 0,
    );
  }

  /** teardown(), then gives the names to the next run. */
  async release(): Promise<void> {
    await this.teardown();
    unlockNames(this.prefix);
  }
}
