/**
 * Network-namespace harness for interop tests: two namespaces joined by a veth pair, helpers to
 * run commands inside them, to spawn daemons, to poll for conditions and to clean everything up
 * (processes first, since a namespace lives on while a process is inside it).
 *
 * Addresses only from the benchmarking range (198.18.0.0/15) and fd00::/8 (rules for tests).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

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

/**
 * Two namespaces `a` and `b` joined by a veth pair `<prefix>-va`/`<prefix>-vb` with
 * underlay 198.18.0.1/24 + fd00:18::1/64 and 198.18.0.2/24 + fd00:18::2/64.
 */
export class NetnsPair {
  readonly a: string;
  readonly b: string;
  readonly underlay4 = { a: "198.18.0.1", b: "198.18.0.2" } as const;
  readonly underlay6 = { a: "fd00:18::1", b: "fd00:18::2" } as const;
  private readonly daemons = new Set<Daemon>();
  /** UAPI socket paths to remove during cleanup. */
  readonly sockets = new Set<string>();

  constructor(readonly prefix: string) {
    this.a = `${prefix}-a`;
    this.b = `${prefix}-b`;
  }

  private get lockDir(): string {
    return `/run/wirespan-test-${this.prefix}.lock`;
  }

  /**
   * Only one run of a suite may own these names at a time (namespaces, interface names and UAPI
   * sockets are machine-wide): a second concurrent run waits here instead of deleting the first
   * run's namespaces. A lock whose owner is dead is taken over.
   */
  private async lock(timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        mkdirSync(this.lockDir);
        writeFileSync(`${this.lockDir}/pid`, String(process.pid));
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let owner = 0;
      try {
        owner = Number(readFileSync(`${this.lockDir}/pid`, "utf8"));
      } catch {
        // being written right now, or left half-made by a killed run
      }
      let alive = false;
      if (owner > 0) {
        try {
          process.kill(owner, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (!alive && (owner > 0 || Date.now() > deadline - timeout + 2_000)) {
        rmSync(this.lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `another run (pid ${owner}) holds ${this.lockDir}; namespaces ${this.a}/${this.b} are busy`,
        );
      }
      await sleep(250);
    }
  }

  /** Creates the namespaces; waits up to `lockTimeout` ms for another run of the suite to end. */
  async setup(lockTimeout = 150_000): Promise<void> {
    await this.lock(lockTimeout);
    await this.teardown();
    const { a, b } = this;
    await must(["ip", "netns", "add", a]);
    await must(["ip", "netns", "add", b]);
    await must([
      "ip",
      "link",
      "add",
      `${this.prefix}-va`,
      "netns",
      a,
      "type",
      "veth",
      "peer",
      "name",
      `${this.prefix}-vb`,
      "netns",
      b,
    ]);
    for (const [ns, dev, v4, v6] of [
      [a, `${this.prefix}-va`, this.underlay4.a, this.underlay6.a],
      [b, `${this.prefix}-vb`, this.underlay4.b, this.underlay6.b],
    ] as const) {
      await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
      // No DAD: the IPv6 underlay is usable at once instead of after ~2 s of tentative state.
      await must(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
      await must([
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv6.conf.default.accept_dad=0",
      ]);
      await must(["ip", "-n", ns, "addr", "add", `${v4}/24`, "dev", dev]);
      await must(["ip", "-n", ns, "addr", "add", `${v6}/64`, "dev", dev, "nodad"]);
      await must(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    await waitFor(
      "underlay ping",
      async () => (await this.exec(a, ["ping", "-c1", "-W1", this.underlay4.b])).code === 0,
    );
  }

  /** Runs `argv` inside namespace `ns`. */
  exec(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Runs `argv` inside `ns` and throws unless it exits 0; returns stdout. */
  must(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return must(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Spawns a long-running process inside `ns`; it is killed during teardown. */
  spawn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Daemon {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += String(d);
    });
    child.stderr?.on("data", (d) => {
      out += String(d);
    });
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

  /** Kills every process left in the namespaces, deletes them, removes registered sockets. */
  async teardown(): Promise<void> {
    for (const d of [...this.daemons]) d.child.kill("SIGKILL");
    for (const ns of [this.a, this.b]) {
      const pids = await run(["ip", "netns", "pids", ns]);
      if (pids.code === 0) {
        for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
    }
    for (const d of [...this.daemons]) await Promise.race([d.exited, sleep(2_000)]);
    for (const ns of [this.a, this.b]) {
      if (existsSync(`/run/netns/${ns}`)) await run(["ip", "netns", "del", ns]);
    }
    for (const s of this.sockets) rmSync(s, { force: true });
  }

  /** teardown(), then gives the names to the next run. */
  async release(): Promise<void> {
    await this.teardown();
    try {
      if (readFileSync(`${this.lockDir}/pid`, "utf8") === String(process.pid)) {
        rmSync(this.lockDir, { recursive: true, force: true });
      }
    } catch {
      // not ours or already gone
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
