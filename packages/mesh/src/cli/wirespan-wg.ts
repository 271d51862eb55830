#!/usr/bin/env node
/**
 * `wirespan-wg [-f|--foreground] IFNAME`: a userspace WireGuard daemon with wireguard-go's
 * command-line contract (reference §1.4), so `wg`, `wg-quick` (through
 * WG_QUICK_USERSPACE_IMPLEMENTATION) and scripts written for wireguard-go drive it unchanged.
 *
 * - Without -f (and without WG_PROCESS_FOREGROUND=1) it re-runs itself detached and returns
 *   once the UAPI socket answers, because wg-quick configures the interface right after.
 * - LOG_LEVEL = verbose|debug, error (default), silent. Logs go to stdout; in the background
 *   only when LOG_LEVEL is set (as wireguard-go).
 * - Stops on SIGTERM/SIGINT, when its socket file is removed, or when its interface is deleted;
 *   then removes its socket and interface.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { openTunFromEnv } from "@wirespan/tun";
import { Device } from "../device.js";
import { createLogger, type Logger, logLevelFromEnv } from "../logger.js";
import { parseProxyConfig } from "../proxy/proxy-config.js";
import { ProxyNode } from "../proxy/proxy-node.js";
import { uapiSocketDir } from "../socket-dir.js";
import { UapiServer } from "../uapi-server.js";
import { loadProxyConfig } from "./proxy.js";
import { untilStopped } from "./until-stopped.js";

const PROGRAM = "wirespan-wg";
/** How long the launching process waits for the daemon's socket. */
const START_TIMEOUT_MS = 30_000;

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

/** Whether the UAPI socket at `path` accepts connections. */
function socketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    const done = (v: boolean) => {
      c.destroy();
      resolve(v);
    };
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
}

/** Re-runs this program detached in the foreground mode and waits until it serves UAPI. */
async function daemonize(name: string, netstack: NetstackMode | null): Promise<number> {
  const path = UapiServer.socketPath(name, netstack ? uapiSocketDir() : undefined);
  if (await socketLive(path)) {
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
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...flags, name], {
    detached: true,
    stdio: [devnull, logging ? "inherit" : devnull, logging ? "inherit" : "pipe"],
    env: { ...process.env, WG_PROCESS_FOREGROUND: "1" },
  });
  closeSync(devnull);
  let errors = "";
  child.stderr?.on("data", (d) => {
    if (errors.length < 16_384) errors += String(d);
  });
  let exit: string | null = null;
  child.on("exit", (code, signal) => {
    exit = signal ?? String(code);
  });
  child.on("error", (err) => {
    exit = err.message;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exit !== null) {
      // Let the last of its stderr arrive.
      await new Promise((r) => setTimeout(r, 20));
      process.stderr.write(errors);
      process.stderr.write(`${PROGRAM}: failed to start ${name} (daemon exited: ${exit})\n`);
      return 1;
    }
    if (await socketLive(path)) {
      child.stderr?.destroy();
      child.unref();
      return 0;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGTERM");
  process.stderr.write(errors);
  process.stderr.write(`${PROGRAM}: timed out starting ${name}\n`);
  return 1;
}

/**
 * The netstack daemon: a Device on the userspace stack with the UAPI socket in the user's socket
 * directory (socket-dir.ts), so `wg` works without root where the user can reach the socket.
 */
async function foregroundNetstack(
  name: string,
  mode: NetstackMode,
  logger: Logger,
): Promise<number> {
  // Without a file the stack has no address: only WireGuard itself is configured (through wg).
  const config = mode.file
    ? loadProxyConfig(mode.file, true)
    : parseProxyConfig("[Interface]\n", "(none)", { wireguardOptional: true });
  const node = await ProxyNode.start(config, { logger, uapi: { name, dir: uapiSocketDir() } });
  for (const l of node.describe()) logger.verbose(l);
  logger.verbose("Device started");
  const uapi = node.uapi;
  const reason = await untilStopped(undefined, (stop) =>
    uapi?.onRemoved(() => stop("UAPI socket removed")),
  );
  logger.verbose(`Shutting down: ${reason}`);
  setTimeout(() => process.exit(0), 4_000).unref();
  await node.close();
  return 0;
}

async function foreground(name: string, netstack: NetstackMode | null): Promise<number> {
  // Once a launching parent has gone, stderr may be a pipe nobody reads: never die of EPIPE.
  process.stderr.on("error", () => {});
  process.stdout.on("error", () => {});
  const logger = createLogger(logLevelFromEnv(process.env.LOG_LEVEL), name);
  logger.verbose(`Starting ${PROGRAM} version ${version()}`);
  if (netstack) return foregroundNetstack(name, netstack, logger);
  const path = UapiServer.socketPath(name);
  if (await socketLive(path)) {
    logger.error(`UAPI listen error: interface ${name} is already in use`);
    process.stderr.write(`${PROGRAM}: interface ${name} is already in use\n`);
    return 1;
  }
  // Created down, as wireguard-go does; wg-quick or the administrator brings it up.
  const tun = await openTunFromEnv(name, { up: false });
  let device: Device;
  let uapi: UapiServer;
  try {
    device = await Device.create({ tun, logger });
  } catch (err) {
    await tun.close();
    throw err;
  }
  try {
    uapi = await UapiServer.listen(tun.name, device, { logger });
  } catch (err) {
    await device.close();
    throw err;
  }
  logger.verbose("Device started");

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (why: string) => {
      if (stopping) return;
      stopping = true;
      logger.verbose(`Shutting down: ${why}`);
      // Backstop: whatever hangs, the process ends within a few seconds.
      setTimeout(() => process.exit(0), 4_000).unref();
      try {
        await uapi.close();
        await device.close();
      } catch (err) {
        logger.error(`shutdown: ${err}`);
      }
      resolve(0);
    };
    // A bug must not leave a socket behind that `wg` would list: remove it and exit nonzero.
    process.on("uncaughtException", (err) => {
      logger.error(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      try {
        unlinkSync(uapi.path);
      } catch {
        // already gone
      }
      process.exit(1);
    });
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGHUP", () => void stop("SIGHUP"));
    uapi.onRemoved(() => void stop("UAPI socket removed"));
    tun.onClose((reason) => void stop(reason ? `interface gone: ${reason.message}` : "closed"));
  });
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
    loadProxyConfig(file, true); // a bad file is reported here, before any daemon starts
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
