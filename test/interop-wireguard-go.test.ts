/**
 * Interop: wirespan-wg against Debian's wireguard-go, in two network namespaces, configured only
 * with the stock `wg`, `ip` and `wg-quick` tools.
 *
 * Underlay 198.18.0.1/2 and fd00:18::1/2 on a veth; overlay 198.19.0.1/2 and fd00:19::1/2.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Daemon, must, NetnsPair, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";

const WIRESPAN_WG = join(import.meta.dirname, "../packages/mesh/bin/wirespan-wg");
const SOCK_DIR = "/var/run/wireguard";

interface Side {
  ns: string;
  ifname: string;
  daemon: Daemon;
  key: string;
  pub: string;
  keyFile: string;
  port: number;
  overlay4: string;
  overlay6: string;
}

describePrivileged("interop: wirespan-wg ↔ wireguard-go", () => {
  const net = new NetnsPair("wsi");
  let dir = "";

  async function genkey(): Promise<{ key: string; pub: string; file: string }> {
    const key = (await must(["wg", "genkey"])).trim();
    const pub = (await must(["wg", "pubkey"], { input: `${key}\n` })).trim();
    const file = join(dir, `${pub.replace(/[^A-Za-z0-9]/g, "")}.key`);
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return { key, pub, file };
  }

  function sockPath(ifname: string): string {
    const p = `${SOCK_DIR}/${ifname}.sock`;
    net.sockets.add(p);
    return p;
  }

  /** Starts `impl` (wireguard-go or wirespan-wg) in the foreground as `ifname` inside `ns`. */
  async function startDaemon(
    impl: "wireguard-go" | "wirespan",
    ns: string,
    ifname: string,
  ): Promise<Daemon> {
    const argv =
      impl === "wireguard-go" ? ["wireguard-go", "-f", ifname] : [WIRESPAN_WG, "-f", ifname];
    const d = net.spawn(ns, argv, { ...process.env, LOG_LEVEL: "verbose" });
    const sock = sockPath(ifname);
    await waitFor(
      `${impl} ${ifname} UAPI socket`,
      async () => {
        if (d.child.exitCode !== null) throw new Error(`${impl} exited: ${d.output()}`);
        return (await net.exec(ns, ["wg", "show", ifname])).code === 0;
      },
      15_000,
    );
    void sock;
    return d;
  }

  /** Brings up one side: daemon, key, port, overlay addresses, link up. */
  async function side(
    impl: "wireguard-go" | "wirespan",
    ns: string,
    ifname: string,
    port: number,
    n: 1 | 2,
  ): Promise<Side> {
    const daemon = await startDaemon(impl, ns, ifname);
    const k = await genkey();
    await net.must(ns, ["wg", "set", ifname, "private-key", k.file, "listen-port", String(port)]);
    const overlay4 = `198.19.0.${n}`;
    const overlay6 = `fd00:19::${n}`;
    await net.must(ns, ["ip", "addr", "add", `${overlay4}/24`, "dev", ifname]);
    await net.must(ns, ["ip", "addr", "add", `${overlay6}/64`, "dev", ifname, "nodad"]);
    await net.must(ns, ["ip", "link", "set", ifname, "mtu", "1420", "up"]);
    return {
      ns,
      ifname,
      daemon,
      key: k.key,
      pub: k.pub,
      keyFile: k.file,
      port,
      overlay4,
      overlay6,
    };
  }

  /** Makes `a` and `b` peers of each other over the IPv4 underlay. */
  async function connect(a: Side, b: Side, aAddr: string, bAddr: string): Promise<void> {
    await net.must(a.ns, [
      "wg",
      "set",
      a.ifname,
      "peer",
      b.pub,
      "endpoint",
      `${bAddr}:${b.port}`,
      "allowed-ips",
      `${b.overlay4}/32,${b.overlay6}/128`,
    ]);
    await net.must(b.ns, [
      "wg",
      "set",
      b.ifname,
      "peer",
      a.pub,
      "endpoint",
      `${aAddr}:${a.port}`,
      "allowed-ips",
      `${a.overlay4}/32,${a.overlay6}/128`,
    ]);
  }

  async function ping(from: Side, to: string, extra: string[] = []): Promise<boolean> {
    const r = await net.exec(from.ns, ["ping", "-c", "1", "-W", "1", ...extra, to]);
    return r.code === 0;
  }

  /** Pings until one answer arrives (the first may trigger the handshake). */
  async function pingUntil(from: Side, to: string, extra: string[] = [], timeout = 10_000) {
    await waitFor(`ping ${to} from ${from.ns}`, () => ping(from, to, extra), timeout, 50);
  }

  async function stopSide(s: Side): Promise<void> {
    await net.stop(s.daemon);
  }

  beforeAll(async () => {
    for (const t of ["wireguard-go", "wg", "wg-quick", "ip", "ping", "iperf3"]) requireTool(t);
    dir = mkdtempSync(join(tmpdir(), "wsi-"));
    await net.setup();
  });

  afterAll(async () => {
    await net.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("harness: wireguard-go ↔ wireguard-go carries pings both ways", async () => {
    const a = await side("wireguard-go", net.a, "wsg1", 51901, 1);
    const b = await side("wireguard-go", net.b, "wsg0", 51902, 2);
    try {
      await connect(a, b, net.underlay4.a, net.underlay4.b);
      await pingUntil(a, b.overlay4);
      await pingUntil(b, a.overlay4);
      await pingUntil(a, b.overlay6);
    } finally {
      await stopSide(a);
      await stopSide(b);
    }
  });
});
