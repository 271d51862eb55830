/**
 * `wirespan proxy -c FILE`: a WireGuard endpoint without TUN and without root, serving the
 * SOCKS5/HTTP proxies and tunnels of a wireproxy-style file (proxy/proxy-config.ts) until
 * SIGINT/SIGTERM. `--configtest` checks the file and exits; `-d` starts it in the background and
 * returns once it listens, or reports why it could not start (its log then goes to --log-file,
 * or nowhere); `--pid-file` for service managers.
 */
import { spawn } from "node:child_process";
import { openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createLogger, type LogLevel, logLevelFromEnv } from "../logger.js";
import { type ProxyConfig, parseProxyConfig } from "../proxy/proxy-config.js";
import { ProxyNode } from "../proxy/proxy-node.js";
import { parseArgs, UsageError } from "./args.js";
import { untilStopped } from "./until-stopped.js";

export const PROXY_USAGE = `usage: wirespan proxy -c FILE [--configtest] [-d] [--log-file FILE] [--pid-file FILE] [--log-level LEVEL]
  -c, --config FILE   wg-quick file plus [Socks5], [http], [TCPClientTunnel], [TCPServerTunnel],
                      [UDPProxyTunnel], [UDPServerTunnel], [Health] sections (see README)
  --configtest        check the configuration and exit (0 = valid)
  -d, --daemon        run in the background; returns once everything listens (exit 0), or
                      prints why it could not start (exit 1)
  --log-file FILE     append the log here (default: stderr; nowhere once a daemon has started)
  --pid-file FILE     write the process id here once started; removed on a clean stop
  --log-level LEVEL   error (default), verbose or silent; LOG_LEVEL works too`;

const STARTED = "wirespan proxy: started";

export interface ProxyControl {
  /** Stop when aborted (tests); the CLI stops on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
  readonly out?: (line: string) => void;
  readonly onReady?: (node: ProxyNode) => void;
}

/** Reads and checks a configuration file; errors say file:line. */
export function loadProxyConfig(file: string, wireguardOptional = false): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  return parseProxyConfig(text, file, {
    wireguardOptional,
    readFile: (p) => readFileSync(resolve(dirname(file), p), "utf8"),
  });
}

/** How long `-d` waits for the daemon to report that everything listens. */
const START_TIMEOUT_MS = 60_000;

/**
 * Re-runs this command detached (its own session, no terminal) without -d and waits until it
 * reports that it listens. Until then its stdout and stderr come to us through pipes, so a failed
 * start says why on the invoking terminal and exits non-zero; then the pipes are dropped and the
 * daemon logs only to --log-file.
 */
async function daemonize(argv: readonly string[], out: (l: string) => void): Promise<number> {
  const rest = argv.filter((a) => a !== "-d" && a !== "--daemon");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], "proxy", ...rest], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  let errors = "";
  child.stdout?.on("data", (d) => {
    if (text.length < 65_536) text += String(d);
  });
  child.stderr?.on("data", (d) => {
    if (errors.length < 65_536) errors += String(d);
  });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ?? `exit ${code}`));
    child.once("error", (err) => resolve(err.message));
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  let ended: string | null = null;
  void exited.then((why) => {
    ended = why;
  });
  while (!text.includes(STARTED)) {
    if (ended !== null || Date.now() > deadline) {
      if (ended === null) child.kill("SIGTERM");
      // Let the last of its output arrive.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      process.stderr.write(errors);
      process.stderr.write(
        `wirespan proxy: failed to start (${ended ?? "timed out; stopped it"})\n`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  for (const l of text.trimEnd().split("\n")) out(l);
  out(`wirespan proxy: running in the background as pid ${child.pid}`);
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
  return 0;
}

/** Log lines go to `file` (appended, mode 0600) when given, else to stderr. */
function logSink(file: string | undefined): (line: string) => void {
  if (file === undefined) return (line) => process.stderr.write(line);
  let fd: number;
  try {
    fd = openSync(file, "a", 0o600);
  } catch (err) {
    throw new UsageError(`--log-file ${file}: ${(err as Error).message}`);
  }
  return (line) => {
    try {
      writeSync(fd, line);
    } catch {
      // A full disk must not stop the proxy.
    }
  };
}

export async function proxy(argv: readonly string[], control: ProxyControl = {}): Promise<number> {
  const out = control.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const args = parseArgs(argv, {
    values: { "--config": ["-c"], "--log-level": [], "--log-file": [], "--pid-file": [] },
    switches: { "--configtest": [], "--daemon": ["-d"], "--help": ["-h"] },
  });
  if (args.switches.has("--help")) {
    out(PROXY_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected ${args.positionals[0]}`);
  const file = args.values.get("--config");
  if (!file) throw new UsageError("--config FILE is required");
  const config = loadProxyConfig(file);
  if (args.switches.has("--configtest")) {
    out(`${file}: configuration OK`);
    return 0;
  }
  if (args.switches.has("--daemon")) return daemonize(argv, out);

  const levelText = args.values.get("--log-level");
  const level: LogLevel = logLevelFromEnv(levelText ?? process.env.LOG_LEVEL);
  // A daemon's parent stops reading our output once started: never die of EPIPE.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  const logger = createLogger(level, "proxy", logSink(args.values.get("--log-file")));
  const node = await ProxyNode.start(config, { logger });
  const pidFile = args.values.get("--pid-file");
  try {
    if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    await node.close();
    throw new UsageError(`--pid-file ${pidFile}: ${(err as Error).message}`);
  }
  for (const l of node.describe()) out(`wirespan proxy: ${l}`);
  out(STARTED);
  control.onReady?.(node);
  const reason = await untilStopped(control.signal);
  logger.verbose(`shutting down (${reason})`);
  await node.close();
  if (pidFile !== undefined) rmSync(pidFile, { force: true });
  return 0;
}
