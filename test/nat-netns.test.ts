/**
 * The mesh through NAT (issue #12), for real: one topology (test/support/nat-netns.ts) shared by
 * every case to stay within the CI budget — a WAN bridge with the discovery service (+ STUN) and
 * a relay (+ STUN), and six `wirespan up` nodes:
 *
 *   n1, n2  behind cone NATs (Linux masquerade), endpoint filters = their LAN only (#12897)
 *   n6      public, on the WAN bridge (#12897's control plane)
 *   n3, n4  behind symmetric NATs (masquerade fully-random)
 *   n5      behind a cone NAT that drops all forwarded UDP (only TCP to the relay gets out)
 *
 * The relay serves wss:// (TLS with a self-signed certificate the nodes trust), as users run it.
 *
 * Asserted: n1↔n2 direct within 15 s and the relay carrying nothing after; every pair of
 * {n1, n2, n6} up (the #12897 topology; CI holds it for 6 s instead of the issue's 5 minutes,
 * set WIRESPAN_NAT_SOAK_MS for the long hold); n3↔n4 relayed within 15 s, ping and a 50 MB
 * transfer byte-exact; n5 relayed to everyone; all 15 pairs up; relay killed → direct pairs
 * unaffected, relayed pairs back within 15 s of its return.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { formatClusterToken, relayToken } from "../packages/mesh/src/relay/protocol.js";
import { MeshCluster } from "./support/mesh-cluster.js";
import {
  DiscoveryIp,
  lanSubnet,
  NatLab,
  type NatNode,
  RelayIp,
  wanIp,
} from "./support/nat-netns.js";
import { type Daemon, RunId, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";
import { selfSignedCert } from "./support/self-signed.js";

const root = resolve(import.meta.dirname, "..");
const wirespan = join(root, "packages/mesh/bin/wirespan");
const DiscoveryPort = 3000;
const RelayPort = 8443;
const StunPort = 3478;
// wss://, as deployed: the relay's self-signed certificate is trusted through NODE_EXTRA_CA_CERTS.
const RelayUrl = `wss://${RelayIp}:${RelayPort}/wirespan/relay`;
const Nodes: readonly NatNode[] = [
  { i: 1, nat: "cone" },
  { i: 2, nat: "cone" },
  { i: 6, nat: "public" },
  { i: 3, nat: "symmetric" },
  { i: 4, nat: "symmetric" },
  { i: 5, nat: "cone", udpBlocked: true },
];
/** The Talos-style node of the mixed-mesh case: wireguard-go, public, added last. */
const Talos: NatNode = { i: 7, nat: "public" };
const rawClient = join(root, "packages/mesh/test/mesh-raw-client.ts");
const SoakMs = Number(process.env.WIRESPAN_NAT_SOAK_MS ?? 6_000);

interface PeerRow {
  label: string;
  state: string;
  path?: string;
  pathVia?: string;
}

describePrivileged("mesh through NAT: STUN, hole punching, relay (network namespaces)", () => {
  const lab = new NatLab();
  let mesh: MeshCluster;
  let base: string;
  let cert: { cert: string; key: string };
  let relay: Daemon;
  const ulas = new Map<number, string>();
  const figures: Record<string, string> = {};

  function writeConfig(n: NatNode): void {
    const kubespan: Record<string, unknown> = {
      enabled: true,
      interface: `wsn${RunId}k${n.i}`,
      port: 51820,
      stunServers: [`${DiscoveryIp}:${StunPort}`, `${RelayIp}:${StunPort}`],
      relays: [RelayUrl],
    };
    // #12897: the NATed workers advertise only their LAN (Talos filters.endpoints).
    if (n.i === 1 || n.i === 2) kubespan.filters = { endpoints: [lanSubnet(n.i)] };
    mesh.writeConfig(n.i, kubespan);
  }

  function startNode(i: number): void {
    mesh.startNode(i, {
      args: ["--uapi-dir", join(base, "uapi")],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: cert.cert },
    });
  }

  function startRelay(): Daemon {
    const token = formatClusterToken(mesh.id, relayToken(Buffer.from(mesh.secret, "base64")));
    relay = lab.spawn(lab.wanNs, [
      wirespan,
      "relay",
      "serve",
      "--listen",
      `${RelayIp}:${RelayPort}`,
      "--cluster-token",
      token,
      "--stun-port",
      String(StunPort),
      "--tls-cert",
      cert.cert,
      "--tls-key",
      cert.key,
    ]);
    return relay;
  }

  const peers = async (i: number): Promise<Map<string, PeerRow>> => {
    const rows = await mesh.get(i, "peerstatuses");
    return new Map(rows.map((r) => [r.spec.label as string, r.spec as unknown as PeerRow]));
  };

  /** True when node i sees node j with `state` (and `path`, if given). */
  async function sees(i: number, j: number, path?: string): Promise<boolean> {
    const row = (await peers(i)).get(`node-${j}`);
    return row?.state === "up" && (path === undefined || row.path === path);
  }

  async function pair(i: number, j: number, path?: string): Promise<boolean> {
    return (await sees(i, j, path)) && (await sees(j, i, path));
  }

  async function dumpStates(nodes: number[]): Promise<string> {
    const out = [];
    for (const i of nodes)
      out.push(`node-${i}: ${JSON.stringify([...(await peers(i).catch(() => new Map()))])}`);
    return out.join("\n");
  }

  async function relayForwarded(): Promise<number> {
    const text = await (await fetchInNs(`https://${RelayIp}:${RelayPort}/metrics`)).toString();
    return Number(/wirespan_relay_forwarded_packets_total (\d+)/.exec(text)?.[1] ?? Number.NaN);
  }

  /** curl inside the WAN namespace (the relay is not reachable from the root namespace). */
  async function fetchInNs(url: string): Promise<string> {
    return lab.must(lab.wanNs, ["curl", "-s", "--cacert", cert.cert, "--max-time", "5", url]);
  }

  const ping = (from: number, to: number, count = 3) =>
    lab.exec(lab.nodeNs(from), [
      "ping",
      "-6",
      "-c",
      String(count),
      "-i",
      "0.2",
      "-W",
      "2",
      ulas.get(to) as string,
    ]);

  async function startAndWaitIdentity(nodes: number[]): Promise<void> {
    for (const i of nodes) startNode(i);
    // Start-up (tsx + addon) takes tens of seconds on a loaded 2-core machine.
    for (const i of nodes) ulas.set(i, await mesh.ula(i, 90_000));
  }

  beforeAll(async () => {
    for (const tool of ["ip", "nft", "ping", "curl", "openssl", "wireguard-go", "wg"])
      requireTool(tool);
    mesh = new MeshCluster(lab, `${DiscoveryIp}:${DiscoveryPort}`);
    base = mesh.base;
    mkdirSync(join(base, "uapi"));
    cert = selfSignedCert(base, RelayIp);
    await lab.setup(Nodes);
    for (const n of Nodes) writeConfig(n);
    const discovery = lab.spawn(lab.wanNs, [
      wirespan,
      "discovery",
      "serve",
      "--listen",
      `${DiscoveryIp}:${DiscoveryPort}`,
      "--stun-listen",
      `${DiscoveryIp}:${StunPort}`,
    ]);
    startRelay();
    await waitFor(
      "discovery listening",
      () => discovery.output().includes("STUN listening"),
      30_000,
    );
    await waitFor("relay listening", () => relay.output().includes("relay listening"), 60_000);
  }, 150_000);

  afterAll(async () => {
    console.log(`nat-netns figures: ${JSON.stringify(figures, null, 1)}`);
    const logs = process.env.WIRESPAN_MESH_LOGS;
    if (logs) {
      mkdirSync(logs, { recursive: true });
      for (const [i, d] of mesh.daemons) writeFileSync(join(logs, `nat-node-${i}.log`), d.output());
    }
    for (const d of mesh?.daemons.values() ?? []) await lab.stop(d, 3_000).catch(() => {});
    await lab.teardown();
  }, 60_000);

  it("cone ↔ cone: direct within 15 s, relay idle after; the #12897 trio all up", async () => {
    await startAndWaitIdentity([1, 2, 6]);
    // Timed from when the nodes run (their control sockets answer): process start-up on a
    // loaded 2-core CI machine is not what the 15 s target is about.
    const t0 = Date.now();
    await waitFor("n1 ↔ n2 direct", () => pair(1, 2, "direct"), 15_000, 250).catch(async (e) => {
      throw new Error(
        `${e}\n${await dumpStates([1, 2, 6])}\n${mesh.daemons.get(1)?.output().slice(-3000)}`,
      );
    });
    figures["cone↔cone direct after start"] = `${Date.now() - t0} ms`;
    await waitFor(
      "#12897 trio up",
      async () => (await pair(1, 6)) && (await pair(2, 6)),
      15_000,
      250,
    ).catch(async (e) => {
      throw new Error(`${e}\n${await dumpStates([1, 2, 6])}`);
    });
    expect((await ping(1, 2)).code).toBe(0);
    const before = await relayForwarded();
    expect((await ping(1, 2, 5)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await relayForwarded()).toBe(before);
    // Held (CI: 6 s; the 5 minutes with WIRESPAN_NAT_SOAK_MS=300000).
    const end = Date.now() + SoakMs;
    while (Date.now() < end) {
      expect(await pair(1, 2), await dumpStates([1, 2])).toBe(true);
      expect((await pair(1, 6)) && (await pair(2, 6)), await dumpStates([1, 2, 6])).toBe(true);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }, 180_000);

  it("symmetric ↔ symmetric: relayed within 15 s; ping and 50 MB byte-exact; UDP-blocked node relayed", async () => {
    await startAndWaitIdentity([3, 4, 5]);
    const t0 = Date.now();
    await waitFor("n3 ↔ n4 relayed and up", () => pair(3, 4, "relayed"), 15_000, 250).catch(
      async (e) => {
        throw new Error(
          `${e}\n${await dumpStates([3, 4])}\n${mesh.daemons.get(3)?.output().slice(-3000)}`,
        );
      },
    );
    figures["symmetric↔symmetric relayed after start"] = `${Date.now() - t0} ms`;
    expect((await ping(3, 4)).code).toBe(0);
    await waitFor(
      "n5 relayed to n1 and n6",
      async () => (await pair(5, 1, "relayed")) && (await pair(5, 6, "relayed")),
      20_000,
      250,
    ).catch(async (e) => {
      throw new Error(`${e}\n${await dumpStates([5, 1, 6])}`);
    });
    // 50 MB from n3 to n4 through the relay, compared by SHA-256.
    const file = join(base, "blob");
    writeFileSync(file, randomBytes(50 << 20));
    const server = lab.spawn(lab.nodeNs(4), [
      process.execPath,
      "-e",
      "const h=require('crypto').createHash('sha256');let n=0;require('net').createServer(s=>{s.on('data',d=>{h.update(d);n+=d.length});s.on('end',()=>{console.log('got',n,h.digest('hex'));process.exit(0)})}).listen(5001,'::',()=>console.log('ready'))",
    ]);
    await waitFor("sink ready", () => server.output().includes("ready"), 10_000);
    const t1 = Date.now();
    const send = await lab.exec(
      lab.nodeNs(3),
      [
        process.execPath,
        "-e",
        `const s=require('net').connect(5001,'${ulas.get(4)}',()=>require('fs').createReadStream('${file}').pipe(s));s.on('error',e=>{console.error(e);process.exit(1)})`,
      ],
      { timeout: 90_000 },
    );
    expect(send.code, send.stderr).toBe(0);
    await waitFor("sink done", () => server.output().includes("got"), 30_000);
    figures["50 MB relayed"] = `${Date.now() - t1} ms`;
    const want = (await lab.must(lab.nodeNs(3), ["sha256sum", file])).split(" ")[0];
    expect(server.output()).toContain(`got ${50 << 20} ${want}`);
  }, 220_000);

  it("all 15 pairs up", async () => {
    const all = Nodes.map((n) => n.i);
    await waitFor(
      "all pairs up",
      async () => {
        for (const i of all) for (const j of all) if (i < j && !(await pair(i, j))) return false;
        return true;
      },
      20_000,
      500,
    ).catch(async (e) => {
      throw new Error(`${e}\n${await dumpStates(all)}`);
    });
    const paths: string[] = [];
    for (const i of all)
      for (const [label, r] of await peers(i)) paths.push(`${i}→${label}: ${r.path}`);
    figures.paths = paths.join(", ");
  }, 30_000);

  it("relay killed: direct pairs unaffected; relayed pairs back within 15 s of its return", async () => {
    await lab.kill(relay);
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await ping(1, 2)).code).toBe(0);
    expect(await pair(1, 2, "direct")).toBe(true);
    startRelay();
    await waitFor("relay listening", () => relay.output().includes("relay listening"), 60_000);
    const t0 = Date.now();
    await waitFor("n3 ↔ n4 back", async () => (await ping(3, 4, 1)).code === 0, 15_000, 250).catch(
      async (e) => {
        throw new Error(
          `${e}\n${await dumpStates([3, 4])}\n${mesh.daemons.get(3)?.output().slice(-3000)}`,
        );
      },
    );
    figures["relayed pair back after relay return"] = `${Date.now() - t0} ms`;
  }, 60_000);

  it("a plain Talos-style node (independent discovery client + wireguard-go) comes up with the others", async () => {
    // Node 7, public: wireguard-go configured with `wg` from what the independent client (written
    // from the published API, none of wirespan's code) decrypts. It knows nothing of STUN, relays
    // or affiliate field 1000, like a Talos node; wirespan peers treat it by Talos's rules.
    await lab.addNode(Talos);
    const ns = lab.nodeNs(Talos.i);
    const iface = `wsn${RunId}k${Talos.i}`;
    const priv = (await lab.must(ns, ["wg", "genkey"])).trim();
    const pub = (await lab.must(ns, ["wg", "pubkey"], { input: `${priv}\n` })).trim();
    const ula = `${(ulas.get(1) as string).split(":").slice(0, 4).join(":")}::7`;
    const publish = JSON.stringify({
      id: "talos-style-node-7",
      publicKey: pub,
      address: ula,
      endpoint: `${wanIp(Talos.i)}:51820`,
      hostname: `node-${Talos.i}`,
    });
    const r = await lab.exec(
      ns,
      ["node", "--import", "tsx", rawClient, `${DiscoveryIp}:${DiscoveryPort}`, mesh.id].concat([
        mesh.secret,
        publish,
      ]),
      { timeout: 30_000 },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const snap = JSON.parse(r.stdout) as {
      affiliates: { hostname: string; publicKey: string; address: string; endpoints: string[] }[];
    };
    const ours = snap.affiliates.filter((a) => a.publicKey !== pub);
    // Every wirespan affiliate decrypts (field 1000, the home relay, is skipped as unknown).
    expect(ours.map((a) => a.hostname).sort()).toEqual(Nodes.map((n) => `node-${n.i}`).sort());
    writeFileSync(join(base, "wg7.key"), `${priv}\n`, { mode: 0o600 });
    writeFileSync(join(base, "psk"), `${mesh.secret}\n`, { mode: 0o600 });
    await lab.must(ns, ["wireguard-go", iface]);
    await lab.must(
      ns,
      ["wg", "set", iface, "private-key", join(base, "wg7.key")].concat(["listen-port", "51820"]),
    );
    for (const a of ours) {
      // Endpoints only for what it can reach: the public node. NATed nodes reach it and it
      // roams to where their handshakes come from.
      const endpoint = a.endpoints.find((e) => e.startsWith("198.18.10."));
      await lab.must(
        ns,
        ["wg", "set", iface, "peer", a.publicKey, "preshared-key", join(base, "psk")]
          .concat(["allowed-ips", `${a.address}/128`, "persistent-keepalive", "25"])
          .concat(endpoint ? ["endpoint", endpoint] : []),
      );
    }
    await lab.must(ns, ["ip", "-6", "addr", "add", `${ula}/64`, "dev", iface, "nodad"]);
    await lab.must(ns, ["ip", "link", "set", iface, "up"]);
    // Up with every node that has UDP (n5 has none, and Talos peers are never relayed), over
    // plain WireGuard (no path choice); a ping from the Talos-style node reaches each.
    const reachable = Nodes.filter((n) => !n.udpBlocked).map((n) => n.i);
    await waitFor(
      "node-7 up on every node with UDP",
      async () => {
        for (const i of reachable) if ((await peers(i)).get("node-7")?.state !== "up") return false;
        return true;
      },
      30_000,
      500,
    ).catch(async (e) => {
      throw new Error(
        `${e}\n${await dumpStates(reachable)}\n${await lab.exec(ns, ["wg", "show"]).then((x) => x.stdout)}`,
      );
    });
    for (const i of reachable) {
      // Not path-managed: no path fields for a Talos peer.
      expect((await peers(i)).get("node-7")?.path).toBeUndefined();
      const p = await lab.exec(ns, ["ping", "-6", "-c", "1", "-W", "3", ulas.get(i) as string]);
      expect(p.code, `ping node-${i}: ${p.stdout}`).toBe(0);
    }
    // The wirespan nodes are still all up with each other.
    const all = Nodes.map((n) => n.i);
    for (const i of all)
      for (const j of all) if (i < j) expect(await pair(i, j), `${i}↔${j}`).toBe(true);
  }, 90_000);
});
