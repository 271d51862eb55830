/**
 * `wirespan proxy -c FILE`: a WireGuard endpoint without TUN and without root, serving the
 * SOCKS5/HTTP proxies and tunnels of a wireproxy-style file (proxy/proxy-config.ts) until
 * SIGINT/SIGTERM. `--configtest` checks the file and exits; `-d` starts it in the background and
 * returns once it listens (its output then goes to --log-file, or nowhere).
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createLogger, type LogLevel, logLevelFromEnv } from "../logger.js";
import { type ProxyConfig, parseProxyConfig } from "../proxy/proxy-config.js";
import { ProxyNode } from "../proxy/proxy-node.js";
import { parseArgs, UsageError } from "./args.js";
import { untilStopped } from "./until-stopped.js";

export const PROXY_USAGE = `usage: wirespan proxy -c FILE [--configtest] [-d [--log-file FILE]] [--log-level LEVEL]
  -c, --config FILE   wg-quick file plus [Socks5], [http], [TCPClientTunnel], [TCPServerTunnel],
                      [UDPProxyTunnel], [UDPServerTunnel], [Health] sections (see README)
  --configtest        check the configuration and exit (0 = valid)
  -d, --daemon        run in the background; returns once everything listens
  --log-file FILE     where a daemon writes its log (default: nowhere)
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

/** Re-runs this command detached without -d; resolves once the child reports it listens. */
async function daemonize(
  argv: readonly string[],
  logFile: string | undefined,
  out: (l: string) => void,
): Promise<number> {
  const rest = argv.filter((a) => a !== "-d" && a !== "--daemon");
  const log = logFile ? openSync(logFile, "a", 0o600) : openSync("/dev/null", "w");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], "proxy", ...rest], {
    detached: true,
    stdio: ["ignore", "pipe", log],
  });
  closeSync(log);
  return new Promise<number>((resolve) => {
    let text = "";
    child.stdout?.on("data", (d) => {
      text += String(d);
      if (text.includes(STARTED)) {
        for (const l of text.trimEnd().split("\n")) out(l);
        out(`wirespan proxy: running in the background as pid ${child.pid}`);
        child.stdout?.destroy();
        child.unref();
        resolve(0);
      }
    });
    child.once("exit", (code) => {
      out(text.trimEnd());
      out(`wirespan proxy: failed to start (exit ${code})${logFile ? `; see ${logFile}` : ""}`);
      resolve(1);
    });
  });
}

export async function proxy(argv: readonly string[], control: ProxyControl = {}): Promise<number> {
  const out = control.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const args = parseArgs(argv, {
    values: { "--config": ["-c"], "--log-level": [], "--log-file": [] },
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
  if (args.switches.has("--daemon")) return daemonize(argv, args.values.get("--log-file"), out);

  const levelText = args.values.get("--log-level");
  const level: LogLevel = logLevelFromEnv(levelText ?? process.env.LOG_LEVEL);
  // A daemon's parent stops reading stdout once started: never die of EPIPE.
  process.stdout.on("error", () => {});
  const logger = createLogger(level, "proxy", (line) => process.stderr.write(line));
  const node = await ProxyNode.start(config, { logger });
  for (const l of node.describe()) out(`wirespan proxy: ${l}`);
  out(STARTED);
  control.onReady?.(node);
  const reason = await untilStopped(control.signal);
  logger.verbose(`shutting down (${reason})`);
  await node.close();
  return 0;
}
