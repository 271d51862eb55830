/**
 * One tunnel between the namespaces: a daemon per side (wireguard-go or wirespan-wg), keys,
 * overlay addresses and peers configured with the stock `wg` and `ip` tools, exactly as a user
 * would, then a ping until the handshake has completed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Daemon, must, sleep, waitFor } from "../../test/support/netns.js";
import { type BenchNet, LISTEN_PORT, OVERLAY, UNDERLAY } from "./netns.js";
import { findProcess } from "./proc.js";

export type Impl = "wireguard-go" | "wirespan";

export const WIRESPAN_WG = join(import.meta.dirname, "../../packages/mesh/bin/wirespan-wg");
const SOCK_DIR = "/var/run/wireguard";

export interface Side {
  readonly impl: Impl;
  readonly ns: string;
  readonly ifname: string;
  readonly daemon: Daemon;
  /** PID of the daemon process itself (node or wireguard-go), for /proc sampling. */
  readonly pid: number;
  readonly pub: string;
}

export interface TunnelOptions {
  /** Extra node flags for wirespan-wg (e.g. --cpu-prof), from WIRESPAN_NODE_ARGS. */
  readonly nodeArgs?: readonly string[];
  /** Extra environment for both daemons. */
  readonly env?: NodeJS.ProcessEnv;
  /** Checkout whose packages/mesh/bin/wirespan-wg to run instead of this one's. */
  readonly tree?: string;
  /** A compiled wirespan-wg (e.g. the published bundle, dist/bin/wirespan-wg.js) run with node. */
  readonly bin?: string;
}

/** The argv that starts `impl` in the foreground as `ifname`. */
function daemonArgv(impl: Impl, ifname: string, opts: TunnelOptions): string[] {
  if (impl === "wireguard-go") return ["wireguard-go", "-f", ifname];
  const bin =
    opts.bin ?? (opts.tree ? join(opts.tree, "packages/mesh/bin/wirespan-wg") : WIRESPAN_WG);
  return [process.execPath, ...(opts.nodeArgs ?? []), bin, "-f", ifname];
}

async function startSide(
  net: BenchNet,
  dir: string,
  impl: Impl,
  which: "a" | "b",
  opts: TunnelOptions,
): Promise<Side> {
  const ns = net[which];
  const ifname = net.ifname[which];
  net.socket(`${SOCK_DIR}/${ifname}.sock`);
  const daemon = net.spawn(ns, daemonArgv(impl, ifname, opts), {
    ...process.env,
    LOG_LEVEL: "error",
    ...opts.env,
  });
  await waitFor(
    `${impl} ${ifname} UAPI socket`,
    async () => {
      if (daemon.child.exitCode !== null) throw new Error(`${impl} exited: ${daemon.output()}`);
      return (await net.exec(ns, ["wg", "show", ifname])).code === 0;
    },
    30_000,
  );
  const pid = findProcess(daemon.child.pid!, impl === "wireguard-go" ? "wireguard-go" : "node");
  if (pid === null) throw new Error(`cannot find the ${impl} process`);
  const key = (await must(["wg", "genkey"])).trim();
  const pub = (await must(["wg", "pubkey"], { input: `${key}\n` })).trim();
  const keyFile = join(dir, `${which}.key`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  await net.must(ns, [
    "wg",
    "set",
    ifname,
    "private-key",
    keyFile,
    "listen-port",
    String(LISTEN_PORT[which]),
  ]);
  await net.must(ns, ["ip", "addr", "add", `${OVERLAY[which]}/24`, "dev", ifname]);
  await net.must(ns, ["ip", "link", "set", ifname, "mtu", "1420", "up"]);
  return { impl, ns, ifname, daemon, pid, pub };
}

/** A configured, handshaken tunnel from a (sender) to b (receiver). */
export class TunnelPair {
  private constructor(
    readonly a: Side,
    readonly b: Side,
    private readonly net: BenchNet,
    private readonly dir: string,
  ) {}

  /** Brings the tunnel up, retrying once: a daemon that fails to start is reported, not fatal. */
  static async up(
    net: BenchNet,
    implA: Impl,
    implB: Impl,
    opts: TunnelOptions = {},
  ): Promise<TunnelPair> {
    try {
      return await TunnelPair.upOnce(net, implA, implB, opts);
    } catch (err) {
      process.stderr.write(`tunnel setup failed, retrying once: ${String(err).split("\n")[0]}\n`);
      await sleep(1000);
      return TunnelPair.upOnce(net, implA, implB, opts);
    }
  }

  private static async upOnce(
    net: BenchNet,
    implA: Impl,
    implB: Impl,
    opts: TunnelOptions = {},
  ): Promise<TunnelPair> {
    const dir = mkdtempSync(join(tmpdir(), "wsb-"));
    const sides: Side[] = [];
    try {
      sides.push(await startSide(net, dir, implA, "a", opts));
      sides.push(await startSide(net, dir, implB, "b", opts));
      const [a, b] = sides;
      for (const [self, other, otherWhich] of [
        [a, b, "b"],
        [b, a, "a"],
      ] as const) {
        await net.must(self.ns, [
          "wg",
          "set",
          self.ifname,
          "peer",
          other.pub,
          "endpoint",
          `${UNDERLAY[otherWhich]}:${LISTEN_PORT[otherWhich]}`,
          "allowed-ips",
          `${OVERLAY[otherWhich]}/32`,
        ]);
      }
      await waitFor(
        "ping through the tunnel",
        async () => (await net.exec(a.ns, ["ping", "-c1", "-W1", OVERLAY.b])).code === 0,
        20_000,
        50,
      );
      return new TunnelPair(a, b, net, dir);
    } catch (err) {
      for (const s of sides) await net.stop(s.daemon);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Stops both daemons (SIGTERM, so --cpu-prof profiles are written) and removes the keys. */
  async down(): Promise<void> {
    await Promise.all([this.net.stop(this.a.daemon), this.net.stop(this.b.daemon)]);
    rmSync(this.dir, { recursive: true, force: true });
    // wireguard-go removes its TUN on exit; give the kernel a moment before the next pairing
    // creates the same names.
    await sleep(200);
  }
}
