/**
 * The foreground daemon of `wirespan-wg IFNAME` (cli/wirespan-wg.ts is the command line and the
 * launcher): a kernel TUN, a Device and its UAPI socket, until a signal, the socket's removal or
 * the interface's deletion. Loaded only when the daemon runs, so `--version` and the launching
 * parent of a daemonising start stay small.
 */
import { unlinkSync } from "node:fs";
import { openTunFromEnv } from "@wirespan/tun";
import { Device } from "../device.js";
import type { Logger } from "../logger.js";
import { isSocketLive, uapiSocketPath } from "../socket-dir.js";
import { UapiServer } from "../uapi-server.js";
import { signalReady } from "./ready-fd.js";

export async function runTunDaemon(program: string, name: string, logger: Logger): Promise<number> {
  const path = uapiSocketPath(name);
  if (await isSocketLive(path)) {
    logger.error(`UAPI listen error: interface ${name} is already in use`);
    process.stderr.write(`${program}: interface ${name} is already in use\n`);
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
  signalReady();

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
