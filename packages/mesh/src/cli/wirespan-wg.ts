#!/usr/bin/env node
/**
 * `wirespan-wg [-f|--foreground] IFNAME`: a userspace WireGuard daemon with wireguard-go's
 * command-line contract (reference §1.4), so `wg`, `wg-quick` (through
 * WG_QUICK_USERSPACE_IMPLEMENTATION) and scripts written for wireguard-go drive it unchanged.
 *
 * - Without -f (and without WG_PROCESS_FOREGROUND=1) it re-runs itself detached and returns
 *   once the daemon reports its UAPI socket serving (ready-fd.ts), because wg-quick configures
 *   the interface right after.
 * - LOG_LEVEL = verbose|debug, error (default), silent. Logs go to stdout; in the background
 *   only when LOG_LEVEL is set (as wireguard-go).
 * - Stops on SIGTERM/SIGINT, when its socket file is removed, or when its interface is deleted;
 *   then removes its socket and interface.
 *
 * This file is the command line and the launcher only: the daemon (Device, TUN, crypto) and the
 * netstack are imported when they run, so a launching parent costs little more than Node's own
 * start (bench/footprint).
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createLogger, logLevelFromEnv } from "../logger.js";
import { isSocketLive, uapiSocketDir, uapiSocketPath } from "../socket-dir.js";
import { READY_ENV } from "./ready-fd.js";

const PROGRAM = "wirespan-wg";
/** How long the launching process waits for the daemon's socket. */
const START_TIMEOUT_MS = 30_000;
/**
 * Node flags the launcher gives the daemon it starts (a foreground run keeps whatever node was
 * started with): V8's young generation capped at 1 MB per semi-space instead of growing to 16 MB
 * under traffic — 6 MB less RSS per daemon after traffic and no throughput difference measured
 * (bench/RESULTS.md "Footprint", `pnpm bench:footprint:flags`). Flags of the user's own win.
 */
const DAEMON_NODE_FLAGS = ["--max-semi-space-size=1"];

function usage(): never {
  process.stderr.write(
    `Usage: ${PROGRAM} [-f/--foreground] INTERFACE-NAME\n       ${PROGRAM} --netstack [-c FILE] [-f/--foreground] INTERFACE-NAME\n`,
  );
  process.exit(1);
}

/** --netstack: no TUN, no root; the stack's Address/DNS/MTU and front-ends from FILE. */
interface NetstackMode {
  readonly file: string | null;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return String(pkg.version);
  } catch {
    return "unknown";
  }
}

/** Re-runs this program detached in the foreground mode and waits until it serves UAPI. */
async function daemonize(name: string, netstack: NetstackMode | null): Promise<number> {
  const path = uapiSocketPath(name, netstack ? uapiSocketDir() : undefined);
  if (await isSocketLive(path)) {
    process.stderr.write(`${PROGRAM}: interface ${name} is already in use\n`);
    return 1;
  }
  // Logs are kept only when asked for; otherwise all output goes to /dev/null so a caller
  // capturing our output (wg-quick in a pipe) is not held open by the daemon.
  const logging = process.env.LOG_LEVEL !== undefined && process.env.LOG_LEVEL !== "silent";
  const devnull = openSync("/dev/null", "r+");
  // Without logging, the daemon's stderr comes to us through a pipe until it is up, so a failed
  // start says why (no CAP_NET_ADMIN, a name taken, …); then the pipe is dropped.
  const flags = netstack ? ["--netstack", ...(netstack.file ? ["-c", netstack.file] : [])] : [];
  const own = process.execArgv;
  const nodeFlags = [
    ...DAEMON_NODE_FLAGS.filter((f) => !own.some((o) => o.startsWith(f.split("=")[0]))),
    ...own,
  ];
  const child = spawn(process.execPath, [...nodeFlags, process.argv[1], ...flags, name], {
    detached: true,
    stdio: [devnull, logging ? "inherit" : devnull, logging ? "inherit" : "pipe", "pipe"],
    env: { ...process.env, WG_PROCESS_FOREGROUND: "1", [READY_ENV]: "3" },
  });
  closeSync(devnull);
  let errors = "";
  child.stderr?.on("data", (d) => {
    if (errors.length < 16_384) errors += String(d);
  });
  const ready = child.stdio[3];
  const outcome = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
    ready?.on("data", () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // Let the last of its stderr arrive.
      setTimeout(() => resolve(`daemon exited: ${signal ?? code}`), 20);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
  if (outcome === null) {
    ready?.destroy();
    child.stderr?.destroy();
    child.unref();
    return 0;
  }
  if (outcome === "timeout") child.kill("SIGTERM");
  process.stderr.write(errors);
  process.stderr.write(
    outcome === "timeout"
      ? `${PROGRAM}: timed out starting ${name}\n`
      : `${PROGRAM}: failed to start ${name} (${outcome})\n`,
  );
  return 1;
}

async function foreground(name: string, netstack: NetstackMode | null): Promise<number> {
  // Once a launching parent has gone, stderr may be a pipe nobody reads: never die of EPIPE.
  process.stderr.on("error", () => {});
  process.stdout.on("error", () => {});
  const logger = createLogger(logLevelFromEnv(process.env.LOG_LEVEL), name);
  logger.verbose(`Starting ${PROGRAM} version ${version()}`);
  if (netstack) {
    return (await import("./wg-netstack.js")).runNetstackDaemon(name, netstack.file, logger);
  }
  return (await import("./wg-daemon.js")).runTunDaemon(PROGRAM, name, logger);
}

async function main(argv: string[]): Promise<number> {
  let fg = process.env.WG_PROCESS_FOREGROUND === "1";
  let netstack: { file: string | null } | null = null;
  let file: string | null = null;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-f" || a === "--foreground") fg = true;
    else if (a === "--netstack") netstack = { file: null };
    else if (a === "-c" || a === "--config") {
      file = argv[++i] ?? usage();
    } else if (a === "--version" || a === "-v") {
      process.stdout.write(
        `${PROGRAM} v${version()}\n\nUserspace WireGuard daemon in TypeScript (wirespan).\n`,
      );
      return 0;
    } else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) usage();
    else rest.push(a);
  }
  if (rest.length !== 1) usage();
  const name = rest[0];
  if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(name)) {
    process.stderr.write(`${PROGRAM}: invalid interface name ${JSON.stringify(name)}\n`);
    return 1;
  }
  if (file !== null) {
    if (!netstack) usage();
    netstack = { file };
    // A bad file is reported here, before any daemon starts.
    (await import("./proxy.js")).loadProxyConfig(file, true);
  }
  return fg ? foreground(name, netstack) : daemonize(name, netstack);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${PROGRAM}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
