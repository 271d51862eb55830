/**
 * A whole mesh in one process, no root: the discovery service and MeshNodes over MemoryTun and
 * 127.0.0.1 UDP (kubespan/local-mesh.ts). Peer status timings and the keepalive are shortened
 * for speed (the controller takes them as options); the real defaults are asserted separately.
 * The MemoryTuns answer echo requests as a kernel would (local-mesh.ts), so liveness probes
 * (probe.ts) are answered at once; kubespan-probe.test.ts covers a peer without an OS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Endpoint, parseGet } from "@wirespan/noise/internal";
import { MemoryTun } from "@wirespan/tun";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Bind, PreparedBind, ReceiveHandler } from "../src/bind/bind.js";
import { UdpBind } from "../src/bind/udp-bind.js";
import { DiscoveryServer } from "../src/discovery/server.js";
import { loadConfig } from "../src/kubespan/config.js";
import {
  DefaultPeerReconcileIntervalMs,
  EndpointConnectionTimeoutMs,
  KubeSpanPeerKeepaliveSeconds,
  MaxPeerCheckIntervalMs,
  PeerDownIntervalMs,
  ProbeAfterSilenceMs,
  ProbeRetryMs,
  ProbeTimeoutMs,
} from "../src/kubespan/constants.js";
import { MeshNode } from "../src/kubespan/controller.js";
import { identityAddressIp } from "../src/kubespan/identity.js";
import {
  freeUdpPort,
  type LocalClusterSecrets,
  type LocalNode,
  type LocalNodeOptions,
  newCluster,
  startLocalNode,
} from "../src/kubespan/local-mesh.js";
import { DefaultPeerStatusTimings } from "../src/kubespan/peer-status.js";
import { icmp6EchoRequest, isIcmp6Echo } from "../src/kubespan/probe.js";

/** Shortened timings: keepalive 1 s, probing after 1.5 s of silence (keepalive + slack). */
/** Every node's log (peer state changes, handshakes) since the file started, for timeouts. */
const T0 = Date.now();
const TRACE: string[] = [];
const traceLogger = (name: string) => ({
  error: (m: string) => TRACE.push(`${Date.now() - T0} ${name} ERROR ${m}`),
  verbose: (m: string) => TRACE.push(`${Date.now() - T0} ${name} ${m}`),
});

/** The Devices' view of every peer and the last lines of the trace, for a timeout message. */
function deviceTable(nodes: readonly LocalNode[]): string {
  const out: string[] = [];
  for (const n of nodes) {
    out.push(`\n${n.config.hostname}: drops ${JSON.stringify(n.node.device.drops)}`);
    for (const p of n.node.device.peers()) {
      const key = Buffer.from(p.publicKey).toString("base64").slice(0, 4);
      const ep = p.endpoint ? `${p.endpoint.address}:${p.endpoint.port}` : "none";
      const age =
        p.lastHandshakeNs === 0n
          ? "never"
          : `${Date.now() - Number(p.lastHandshakeNs / 1_000_000n)} ms ago`;
      out.push(`\n  peer ${key}… ${ep} handshake ${age} rx ${p.rxBytes} tx ${p.txBytes}`);
    }
  }
  return `${out.join("")}\ntrace (ms since start):\n${TRACE.slice(-150).join("\n")}`;
}

const fast = {
  timings: {
    // ≥ REKEY_TIMEOUT (5 s): handshakes are retried no faster, so each candidate gets one.
    endpointConnectionTimeoutMs: 5_500,
    // peerDownIntervalMs stays Talos's 275 s: it cannot be shortened below a live session's
    // rekey period (peer-status.ts checkPeerStatusTimings); killed peers go down by the probe.
    probeAfterMs: 1_500,
    probeTimeoutMs: 1_500,
    probeRetryMs: 500,
    maxCheckIntervalMs: 250,
  },
  keepaliveSeconds: 1,
} as const;

async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs: number,
  detail: () => string = () => "",
): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms: ${what}${detail()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

function stateOf(n: LocalNode, peer: LocalNode): string | undefined {
  return n.node.peerStatuses().find((s) => s.publicKey === peer.node.identity.publicKey)?.state;
}

function allUp(nodes: readonly LocalNode[]): boolean {
  return nodes.every((n) => nodes.every((p) => p === n || stateOf(n, p) === "up"));
}

/** Every node's view of its peers, for a timeout message. */
function statusTable(nodes: readonly LocalNode[]): string {
  return nodes
    .map((n) =>
      n.node
        .peerStatuses()
        .map((s) => `\n  ${n.config.hostname} → ${s.label}: ${s.state} via ${s.endpoint}`)
        .join(""),
    )
    .join("");
}

/** Sends an ICMPv6 echo from a's ULA to b's and resolves true when b's TUN receives it. */
async function ping(a: LocalNode, b: LocalNode, seq: number): Promise<boolean> {
  const src = identityAddressIp(a.node.identity);
  const dst = identityAddressIp(b.node.identity);
  const before = b.tun.written.length;
  a.tun.inject([icmp6EchoRequest(src, dst, 77, seq)]);
  try {
    await waitFor(
      "echo delivered",
      () => b.tun.written.slice(before).some((p) => isIcmp6Echo(p, src, dst, 77, seq)),
      3_000,
    );
    return true;
  } catch {
    return false;
  }
}

/** A bind whose handshake initiations never leave: the node can only answer (§4.4 cycling). */
class NoInitiationsBind implements Bind {
  dropped = 0;
  constructor(private readonly inner: Bind) {}
  get port() {
    return this.inner.port;
  }
  prepare(port: number): Promise<PreparedBind> {
    return this.inner.prepare(port);
  }
  open(port: number) {
    return this.inner.open(port);
  }
  setMark(mark: number) {
    this.inner.setMark(mark);
  }
  send(to: Endpoint, data: Uint8Array) {
    if (data[0] === 1) {
      this.dropped++;
      return;
    }
    this.inner.send(to, data);
  }
  onReceive(handler: ReceiveHandler) {
    this.inner.onReceive(handler);
  }
  close() {
    return this.inner.close();
  }
}

describe("in-process mesh (MemoryTun, loopback UDP, discovery service)", () => {
  let discovery: DiscoveryServer;
  let base: string;
  let cluster: LocalClusterSecrets;
  const nodes: LocalNode[] = [];
  const opts = (name: string, extra: Partial<LocalNodeOptions> = {}): LocalNodeOptions => ({
    cluster,
    discovery: `http://${discovery.address}`,
    hostname: name,
    stateDir: join(base, name),
    port: 0,
    ...fast,
    logger: traceLogger(name),
    ...extra,
  });

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), "wsm-inproc-"));
    discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    cluster = newCluster();
    for (const name of ["n1", "n2", "n3"]) nodes.push(await startLocalNode(opts(name)));
  });

  afterAll(async () => {
    for (const n of nodes) await n.node.close();
    await discovery?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it("brings every peer of three nodes up", async () => {
    const ms = await waitFor("all peers up", () => allUp(nodes), 15_000);
    expect(ms).toBeLessThan(15_000);
    for (const n of nodes) {
      expect(
        n.node
          .peerSpecs()
          .map((s) => s.label)
          .sort(),
      ).toEqual(
        nodes
          .filter((p) => p !== n)
          .map((p) => p.config.hostname)
          .sort(),
      );
    }
  });

  it("configures peers through UAPI with the cluster secret as PSK and each peer's ULA", async () => {
    const [a, b] = nodes;
    const peerOfA = () =>
      parseGet(a.node.device.ipcGet()).peers.find(
        (p) => Buffer.from(p.publicKey).toString("base64") === b.node.identity.publicKey,
      );
    // Of two peers, the one that does not initiate first switches its keepalive on
    // SecondInitiatorDelayMs after the peer appears: wait for that (bounded) before reading.
    const until = Date.now() + 5_000;
    while (peerOfA()?.persistentKeepalive === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const peer = peerOfA();
    expect(peer).toBeDefined();
    expect(Buffer.from(peer?.presharedKey ?? []).toString("base64")).toBe(cluster.secret);
    expect(peer?.persistentKeepalive).toBe(fast.keepaliveSeconds);
    const allowed = a.node.peerSpecs().find((s) => s.publicKey === b.node.identity.publicKey);
    expect(allowed?.allowedIPs).toContain(`${identityAddressIp(b.node.identity)}/128`);
  });

  it("carries packets between every pair of KubeSpan addresses", async () => {
    let seq = 1;
    for (const a of nodes) {
      for (const b of nodes) if (a !== b) expect(await ping(a, b, seq++)).toBe(true);
    }
  });

  it("never reports a live idle peer down (only one side of a quiet pair sends keepalives)", async () => {
    const seen: string[] = [];
    const record = () => {
      for (const n of nodes) for (const s of n.node.peerStatuses()) seen.push(s.state);
    };
    for (const n of nodes) n.node.on("change", record);
    const probesBefore = nodes.map((n) => n.tun.written.length);
    const probed = () => nodes.some((n, i) => n.tun.written.length > probesBefore[i]);
    // The longest any node went without receiving from some peer (Device counters, sampled).
    const lastRx = new Map<string, { rx: bigint; at: number }>();
    let longestSilence = 0;
    const sample = () => {
      const now = Date.now();
      for (const n of nodes) {
        for (const p of n.node.device.peers()) {
          const key = `${n.config.hostname}/${Buffer.from(p.publicKey).toString("hex")}`;
          const last = lastRx.get(key);
          if (last === undefined || last.rx !== p.rxBytes)
            lastRx.set(key, { rx: p.rxBytes, at: now });
          else longestSilence = Math.max(longestSilence, now - last.at);
        }
      }
    };
    // Many probe periods of the shortened timings, no traffic but keepalives and probes. Which side
    // of a pair ends up silent depends on timer races (more so on a loaded machine), so keep going
    // until a probe has been answered, within a bound.
    const idleUntil = Date.now() + 6 * fast.timings.probeAfterMs;
    const giveUpAt = Date.now() + 16 * fast.timings.probeAfterMs;
    while (Date.now() < idleUntil || (!probed() && Date.now() < giveUpAt)) {
      sample();
      await new Promise((r) => setTimeout(r, fast.timings.probeAfterMs / 8));
    }
    for (const n of nodes) n.node.off("change", record);
    record();
    expect(seen.filter((s) => s !== "up")).toEqual([]);
    // The keepalive-sending sides probed (and were answered) — or, when late timers on a loaded
    // machine made both sides of every pair send keepalives in turn, nobody was ever silent long
    // enough to be due a probe. kubespan-probe.test.ts covers the silent side deterministically.
    if (!probed()) expect(longestSilence).toBeLessThan(fast.timings.probeAfterMs);
  });

  it("reports a crashed node down, and up again after a restart with the same key", async () => {
    const victim = nodes[2];
    const port = Number(victim.endpoint.split(":")[1]);
    const key = victim.node.identity.publicKey;
    await victim.node.close(); // no AffiliateDelete: a crash, the record stays in discovery
    const downMs = await waitFor(
      "crashed node down on both peers",
      () => stateOf(nodes[0], victim) === "down" && stateOf(nodes[1], victim) === "down",
      10_000,
    );
    // Scaled target: silence before the probe + the probe's timeout (+ checks and slack).
    expect(downMs).toBeLessThan(fast.timings.probeAfterMs + fast.timings.probeTimeoutMs + 1_500);

    const again = await startLocalNode(opts("n3", { port }));
    nodes[2] = again;
    expect(again.node.identity.publicKey).toBe(key);
    const upMs = await waitFor("restarted node up everywhere", () => allUp(nodes), 15_000);
    expect(upMs).toBeLessThan(15_000);
    expect(await ping(nodes[0], again, 100)).toBe(true);
  });

  it("reaches a peer whose first advertised endpoint is unreachable through its second", async () => {
    const dead = `127.0.0.1:${await freeUdpPort()}`;
    let bind: NoInitiationsBind | null = null;
    const n4 = await startLocalNode(
      opts("n4", {
        extraEndpointsFirst: [dead],
        wrapBind: (b) => {
          bind = new NoInitiationsBind(b);
          return bind;
        },
      }),
    );
    nodes.push(n4);
    const ms = await waitFor(
      "n4 up on every node",
      () => allUp(nodes),
      40_000,
      () => statusTable(nodes) + deviceTable(nodes),
    );
    const status = nodes[0].node.peerStatuses().find((s) => s.label === "n4");
    expect(status?.endpoint).toBe(n4.endpoint);
    expect(status?.lastUsedEndpoint).toBe(n4.endpoint); // chosen by cycling, not by roaming
    // First candidate gets the connection timeout, then the second one a handshake, which the
    // controller starts at the rotation (kubespan-rotation.test.ts bounds that on a fake clock;
    // here, on a loaded machine, every node's view must also have settled).
    expect(ms).toBeGreaterThanOrEqual(fast.timings.endpointConnectionTimeoutMs - 100);
    expect((bind as NoInitiationsBind | null)?.dropped ?? 0).toBeGreaterThan(0);
  }, 45_000);

  it("serves the resources of resources.ts", () => {
    const rows = nodes[0].node.rows("peerstatuses");
    expect(rows.map((r) => r.spec.label).sort()).toEqual(["n2", "n3", "n4"]);
    expect(rows.every((r) => r.spec.state === "up")).toBe(true);
    const ids = nodes[0].node.rows("identities");
    expect(ids[0].spec.publicKey).toBe(nodes[0].node.identity.publicKey);
    expect(ids[0].spec.privateKey).toBeUndefined();
    expect(nodes[0].node.rows("identities", { showSecrets: true })[0].spec.privateKey).toBe(
      nodes[0].node.identity.privateKey,
    );
  });
});

describe("advertised endpoints (reference §4.3 order)", () => {
  it("node addresses, then the Hello client_ip, then filters, then extra endpoints", async () => {
    const base = mkdtempSync(join(tmpdir(), "wsm-inproc-ep-"));
    const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    const cluster = newCluster();
    const watcher = await startLocalNode({
      cluster,
      discovery: `http://${discovery.address}`,
      hostname: "watcher",
      stateDir: join(base, "watcher"),
      port: 0,
    });
    const port = await freeUdpPort();
    const config = loadConfig(
      stringify({
        machine: {
          network: {
            hostname: "ordered",
            kubespan: {
              enabled: true,
              interface: "mem9",
              port,
              extraAnnouncedEndpoints: ["127.0.0.3:40000", `127.0.0.2:${port}`],
            },
          },
        },
        cluster: {
          id: cluster.id,
          secret: cluster.secret,
          discovery: {
            enabled: true,
            registries: { service: { endpoint: `http://${discovery.address}` } },
          },
        },
      }),
    );
    const node = await MeshNode.start({
      config,
      stateDir: join(base, "ordered"),
      tun: new MemoryTun("mem9", config.kubespan.mtu),
      bind: new UdpBind({ host: "127.0.0.1", family: 4 }),
      addresses: ["127.0.0.2"],
      mac: null,
      uapiDir: false,
      controlSocket: false,
      discoveryBackoff: { initialMs: 100, maxMs: 1_000 },
    });
    try {
      // The service sees us from 127.0.0.1: that is the client_ip (§1.6).
      const expected = [`127.0.0.2:${port}`, `127.0.0.1:${port}`, "127.0.0.3:40000"];
      await waitFor(
        "published endpoints in §4.3 order",
        () =>
          watcher.node.discovery?.affiliates.get(node.nodeId)?.endpoints.join(",") ===
          expected.join(","),
        10_000,
      );
      expect(node.discovery?.publicIp).toBe("127.0.0.1");
      expect(node.localAffiliate().endpoints).toEqual(expected);
    } finally {
      await node.close();
      await watcher.node.close();
      await discovery.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("real default timings (what the shortened ones above stand for)", () => {
  it("refuses a peer-down interval shorter than a live session's rekey period", async () => {
    // Such an interval declared every live pair down 30 s after its handshake (the in-process
    // mesh test failed one run in three on it; kubespan-probe.test.ts shows it on a fake clock).
    const base = mkdtempSync(join(tmpdir(), "wsm-inproc-t-"));
    try {
      await expect(
        startLocalNode({
          cluster: newCluster(),
          discovery: "http://127.0.0.1:9",
          hostname: "short",
          stateDir: join(base, "short"),
          port: 0,
          timings: { ...fast.timings, peerDownIntervalMs: 30_000 },
        }),
      ).rejects.toThrow(/peerDownIntervalMs 30000 is shorter than a live peer goes without/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("uses Talos's constants plus the probe rule", () => {
    expect(DefaultPeerStatusTimings.endpointConnectionTimeoutMs).toBe(EndpointConnectionTimeoutMs);
    expect(EndpointConnectionTimeoutMs).toBe(15_000);
    expect(PeerDownIntervalMs).toBe(275_000);
    expect(DefaultPeerReconcileIntervalMs).toBe(30_000);
    expect(KubeSpanPeerKeepaliveSeconds).toBe(25);
    expect(DefaultPeerStatusTimings.probeAfterMs).toBe(ProbeAfterSilenceMs);
    expect(DefaultPeerStatusTimings.probeTimeoutMs).toBe(ProbeTimeoutMs);
    expect(DefaultPeerStatusTimings.probeRetryMs).toBe(ProbeRetryMs);
  });

  it("meets the targets: killed → down ≤ 60 s, second endpoint ≤ 45 s", () => {
    // A killed peer was last heard at most at the kill (seen ≤ one check interval late); probed
    // after the silence, down when the probe times out (seen ≤ one check interval late).
    expect(ProbeAfterSilenceMs + ProbeTimeoutMs + 2 * MaxPeerCheckIntervalMs).toBeLessThanOrEqual(
      60_000,
    );
    // The keepalive-receiving side of a quiet pair hears every 25 s and need not probe.
    expect(ProbeAfterSilenceMs).toBeGreaterThan(KubeSpanPeerKeepaliveSeconds * 1000);
    // A live peer without a session answers with a handshake after KEEPALIVE_TIMEOUT +
    // REKEY_TIMEOUT (15 s) + jitter (≤ 334 ms, whitepaper §6.2): the timeout must wait for it.
    expect(ProbeTimeoutMs).toBeGreaterThan(15_000 + 334);
    // Second endpoint: the first gets the connection timeout, the handshake to the second is
    // retried within REKEY_TIMEOUT (5 s, whitepaper §6.4), plus one check interval.
    expect(EndpointConnectionTimeoutMs + 5_000 + MaxPeerCheckIntervalMs).toBeLessThanOrEqual(
      45_000,
    );
  });
});
