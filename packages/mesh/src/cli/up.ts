/**
 * `wirespan up`: run a mesh node until SIGINT/SIGTERM (kubespan/controller.ts): a TUN named after
 * `interface` with the node's KubeSpan address /64 and the MTU, the Device on `port`, discovery,
 * and (as root, unless --no-routing) the routing of §4.6 (kubespan/routing.ts). Everything the
 * node added to the system is removed on exit.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { openLinuxTun } from "@wirespan/tun";
import { firstHardwareMac } from "../kubespan/addressing.js";
import { ConfigError, loadConfig } from "../kubespan/config.js";
import { MeshNode } from "../kubespan/controller.js";
import { identityAddressIp, loadOrCreateKubeSpanIdentity } from "../kubespan/identity.js";
import { LinuxRouting, sh } from "../kubespan/routing.js";
import { createLogger, type LogLevel, logLevelFromEnv } from "../logger.js";
import { NetstackNode, type NetstackNodeOptions } from "../proxy/netstack-node.js";
import { uapiSocketDir } from "../socket-dir.js";
import { parseArgs, UsageError } from "./args.js";
import { untilStopped } from "./until-stopped.js";

/** Where identities and the control socket live unless --state-dir says otherwise. */
export const DefaultStateDir = "/var/lib/wirespan";

export const UP_USAGE = `usage: wirespan up --config FILE [--netstack] [--state-dir DIR] [--no-routing] [--uapi-dir DIR] [--log-level LEVEL]
  -c, --config FILE   mesh configuration (wirespan gen config makes one)
  --netstack          no TUN, no root: the userspace TCP/IP stack, with the proxy and inbound
                      forwards of kubespan.netstack (also switched on by netstack.enabled)
  --state-dir DIR     node identity, KubeSpan key and control socket (default ${DefaultStateDir},
                      ~/.local/state/wirespan for a non-root --netstack node)
  --no-routing        only the interface and its ULA address: no table 180, rules or nftables
  --uapi-dir DIR      where the UAPI socket for \`wg\` goes (default /var/run/wireguard; with
                      --netstack as non-root $WG_SOCKET_DIR or $XDG_RUNTIME_DIR/wireguard)
  --log-level LEVEL   error (default), verbose or silent; LOG_LEVEL works too`;

export interface UpControl {
  /** Stop when aborted (tests); the CLI stops on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
  readonly out?: (line: string) => void;
  readonly onReady?: (node: MeshNode) => void;
}

export async function up(argv: readonly string[], control: UpControl = {}): Promise<number> {
  const out = control.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const args = parseArgs(argv, {
    values: { "--config": ["-c"], "--state-dir": [], "--uapi-dir": [], "--log-level": [] },
    switches: { "--no-routing": [], "--netstack": [], "--help": ["-h"] },
  });
  if (args.switches.has("--help")) {
    out(UP_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected ${args.positionals[0]}`);
  const file = args.values.get("--config");
  if (!file) throw new UsageError("--config FILE is required");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  if (!config.kubespan.enabled) {
    throw new UsageError(`${file}: machine.network.kubespan.enabled is false`);
  }
  const netstack = args.switches.has("--netstack") || config.kubespan.netstack.enabled;
  const rootless = netstack && process.getuid?.() !== 0;
  const stateDir =
    args.values.get("--state-dir") ??
    (rootless ? join(homedir(), ".local/state/wirespan") : DefaultStateDir);
  const levelText = args.values.get("--log-level");
  const level: LogLevel = levelText
    ? logLevelFromEnv(levelText)
    : logLevelFromEnv(process.env.LOG_LEVEL);
  const ks = config.kubespan;
  const logger = createLogger(level, ks.interface, (line) => process.stderr.write(line));
  if (netstack) {
    return upNetstack(
      { config, stateDir, uapiDir: args.values.get("--uapi-dir") ?? uapiSocketDir(), logger },
      control,
      out,
    );
  }

  // The identity is loaded (or created) here too, to give the interface its address before the
  // Device starts; MeshNode.start reads the same files.
  const mac = firstHardwareMac([ks.interface]);
  const identity = loadOrCreateKubeSpanIdentity(stateDir, config.cluster.id, mac);
  const address = identityAddressIp(identity);
  const tun = await openLinuxTun({ name: ks.interface, mtu: ks.mtu });
  let routing: LinuxRouting | null = null;
  let node: MeshNode;
  try {
    if (args.switches.has("--no-routing")) {
      await sh(["ip", "-6", "addr", "replace", `${address}/64`, "dev", tun.name, "nodad"]);
    } else {
      routing = await LinuxRouting.setup({
        iface: tun.name,
        address,
        mtu: ks.mtu,
        port: ks.port,
        log: (m) => logger.verbose(m),
      });
    }
    node = await MeshNode.start({
      config,
      stateDir,
      tun,
      routing,
      mac,
      uapiDir: args.values.get("--uapi-dir"),
      logger,
    });
  } catch (err) {
    await routing?.close();
    await tun.close();
    throw err;
  }
  out(
    `wirespan: node ${node.nodeId} up on ${tun.name} (${address}), port ${node.device.listenPort}, public key ${identity.publicKey}`,
  );
  control.onReady?.(node);
  const reason = await untilStopped(control.signal, (stop) =>
    tun.onClose((err) => {
      if (err) stop(`interface ${tun.name} disappeared: ${err.message}`);
    }),
  );
  logger.verbose(`shutting down (${reason})`);
  await node.close();
  out("wirespan: node stopped");
  return 0;
}

/** `up --netstack`: the node on the userspace stack, its proxy and forwards; no root needed. */
async function upNetstack(
  opts: NetstackNodeOptions,
  control: UpControl,
  out: (l: string) => void,
): Promise<number> {
  const n = await NetstackNode.start(opts);
  out(
    `wirespan: node ${n.node.nodeId} up on the netstack (${n.address}), port ${n.node.device.listenPort}, public key ${n.node.identity.publicKey}`,
  );
  for (const l of n.frontEnds.describe()) out(`wirespan: ${l}`);
  control.onReady?.(n.node);
  const reason = await untilStopped(control.signal);
  opts.logger?.verbose(`shutting down (${reason})`);
  await n.close();
  out("wirespan: node stopped");
  return 0;
}
