/**
 * The `wirespan-wg --netstack` daemon: a Device on the userspace stack with the UAPI socket in the
 * user's socket directory (socket-dir.ts), so `wg` works without root where the user can reach
 * the socket. Loaded only for --netstack: the TUN daemon never loads the netstack or the proxies.
 */
import type { Logger } from "../logger.js";
import { parseProxyConfig } from "../proxy/proxy-config.js";
import { ProxyNode } from "../proxy/proxy-node.js";
import { uapiSocketDir } from "../socket-dir.js";
import { loadProxyConfig } from "./proxy.js";
import { signalReady } from "./ready-fd.js";
import { untilStopped } from "./until-stopped.js";

export async function runNetstackDaemon(
  name: string,
  file: string | null,
  logger: Logger,
): Promise<number> {
  // Without a file the stack has no address: only WireGuard itself is configured (through wg).
  const config = file
    ? loadProxyConfig(file, true)
    : parseProxyConfig("[Interface]\n", "(none)", { wireguardOptional: true });
  const node = await ProxyNode.start(config, { logger, uapi: { name, dir: uapiSocketDir() } });
  for (const l of node.describe()) logger.verbose(l);
  logger.verbose("Device started");
  signalReady();
  const uapi = node.uapi;
  const reason = await untilStopped(undefined, (stop) =>
    uapi?.onRemoved(() => stop("UAPI socket removed")),
  );
  logger.verbose(`Shutting down: ${reason}`);
  setTimeout(() => process.exit(0), 4_000).unref();
  await node.close();
  return 0;
}
