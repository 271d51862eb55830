/**
 * WireGuard helpers for interop tests on a NetnsLab: starting wirespan-wg or wireguard-go as an
 * interface, waiting for its UAPI socket, and making keys with the stock `wg` tool.
 */
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type Daemon, must, type NetnsLab, waitFor } from "./netns.js";

export const WIRESPAN_WG = join(import.meta.dirname, "../../packages/mesh/bin/wirespan-wg");
/** Where both implementations put an interface's UAPI socket (NAME.sock). */
export const SOCK_DIR = "/var/run/wireguard";
export type Impl = "wireguard-go" | "wirespan";

/** Whether a UAPI socket accepts a connection (never unlinks anything, unlike `wg`). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** The UAPI socket of `ifname`, registered for removal at the lab's teardown. */
export function sockPath(lab: NetnsLab, ifname: string): string {
  const p = `${SOCK_DIR}/${ifname}.sock`;
  lab.paths.add(p);
  return p;
}

/**
 * Starts `impl` in the foreground (LOG_LEVEL=verbose) as `ifname` inside `ns` and waits for its
 * UAPI socket; a daemon that exits first fails the start with its own output.
 */
export async function startDaemon(
  lab: NetnsLab,
  impl: Impl,
  ns: string,
  ifname: string,
): Promise<Daemon> {
  const argv =
    impl === "wireguard-go" ? ["wireguard-go", "-f", ifname] : [WIRESPAN_WG, "-f", ifname];
  const path = sockPath(lab, ifname);
  const d = lab.spawn(ns, argv, { ...process.env, LOG_LEVEL: "verbose" });
  let up = false;
  const early = d.exited.then((code) => {
    if (!up)
      throw new Error(`${impl} ${ifname} exited (${code}) before serving UAPI:\n${d.output()}`);
  });
  try {
    await Promise.race([
      waitFor(
        `${impl} ${ifname} UAPI socket`,
        // Not `wg show`: wg unlinks a socket that refuses a connection, which can hit a
        // daemon between its bind() and listen() (and wireguard-go then stops).
        () => socketAnswers(path),
        20_000,
      ),
      early,
    ]);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : err}\n${d.output()}`);
  } finally {
    up = true;
  }
  early.catch(() => {});
  return d;
}

/** A private key from `wg genkey`, written to a 0600 file in `dir`, and its public key. */
export async function genkey(dir: string): Promise<{ key: string; pub: string; file: string }> {
  const key = (await must(["wg", "genkey"])).trim();
  const pub = (await must(["wg", "pubkey"], { input: `${key}\n` })).trim();
  const file = join(dir, `${pub.replace(/[^A-Za-z0-9]/g, "")}.key`);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, pub, file };
}

export interface WgPeer {
  readonly pub: string;
  readonly allowedIps: string;
  readonly endpoint?: string;
}

export interface WgInterface {
  readonly daemon: Daemon;
  /** The interface's key pair (private key file in the `dir` given). */
  readonly key: { key: string; pub: string; file: string };
}

/**
 * Starts `impl` as `ifname` in `ns` with a new key (file in `dir`), `listenPort`, `peers`, the
 * overlay `address` (CIDR) and MTU 1420, and brings it up: the far side of an interop test.
 */
export async function startInterface(
  lab: NetnsLab,
  impl: Impl,
  ns: string,
  ifname: string,
  opts: {
    readonly dir: string;
    readonly listenPort: number;
    readonly address: string;
    readonly peers: readonly WgPeer[];
    readonly key?: { key: string; pub: string; file: string };
  },
): Promise<WgInterface> {
  const daemon = await startDaemon(lab, impl, ns, ifname);
  const key = opts.key ?? (await genkey(opts.dir));
  const set = [
    "wg",
    "set",
    ifname,
    "private-key",
    key.file,
    "listen-port",
    String(opts.listenPort),
  ];
  for (const p of opts.peers) {
    set.push("peer", p.pub, "allowed-ips", p.allowedIps);
    if (p.endpoint) set.push("endpoint", p.endpoint);
  }
  await lab.must(ns, set);
  await lab.must(ns, ["ip", "addr", "add", opts.address, "dev", ifname]);
  await lab.must(ns, ["ip", "link", "set", ifname, "mtu", "1420", "up"]);
  return { daemon, key };
}
