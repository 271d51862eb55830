/**
 * The running mesh node: Talos's KubeSpan controllers (reference/kubespan.md §4) folded into one
 * event-driven loop around a {@link Device}.
 *
 * - Identity (§2.1, §3): node ID and WireGuard key persisted in the state directory.
 * - Discovery (§1.7): the local affiliate is published, the others are watched; every change
 *   rebuilds the peer specs (§4.1).
 * - Reconcile (§4.2): read the Device's peers, run each peer's status / endpoint cycling (§4.4),
 *   write the changes through UAPI (the one configuration path), refresh the routing target set
 *   (§4.6) and the harvested endpoints (§4.5).
 * - Scheduling: a pass runs on every affiliate change, on every handshake / endpoint event of the
 *   Device, and at the earliest {@link PeerStatus.nextCheckAt} of all peers — not only on Talos's
 *   30 s tick (which is kept as the upper bound between passes).
 * - Liveness (wirespan extension, constants.ts / peer-status.ts): a peer that has been silent is
 *   sent a probe through the tunnel (probe.ts, Device.sendToTunnel) when its status says one is
 *   due; only an unanswered probe makes an `up` peer `down`.
 *
 * Discovery outages: an affiliate that disappears from discovery (service restarted empty,
 * watch snapshot missing it) keeps its peer while that peer is `up`; it is removed once it is no
 * longer up. Established tunnels therefore survive a discovery restart (§4.8), while a node that
 * really left drops out as soon as its tunnel goes quiet.
 */
import { EventEmitter } from "node:events";
import { cidrContains, formatCidr, parseCidr, parseIp } from "@wirespan/noise";
import type { TunDevice } from "@wirespan/tun";
import type { Bind } from "../bind/bind.js";
import { UdpBind } from "../bind/udp-bind.js";
import { Device } from "../device.js";
import { type Logger, silentLogger } from "../logger.js";
import { UapiServer } from "../uapi-server.js";
import { firstHardwareMac } from "./addressing.js";
import type { AffiliateData, DiscoveredAffiliate } from "./affiliate.js";
import type { MeshConfig } from "./config.js";
import { DefaultPeerReconcileIntervalMs } from "./constants.js";
import { ControlServer, controlSocketPath } from "./control-socket.js";
import { type BackoffOptions, DiscoveryClient } from "./discovery-client.js";
import { advertisedEndpoints, localAddresses } from "./endpoints.js";
import {
  identityAddressIp,
  type KubeSpanIdentity,
  loadOrCreateKubeSpanIdentity,
  loadOrCreateNodeIdentity,
} from "./identity.js";
import { formatIpPort } from "./ip-port.js";
import { IpSet } from "./ip-set.js";
import { buildPeerSpecs, type PeerSpec } from "./peer-spec.js";
import {
  DefaultPeerStatusTimings,
  type PeerState,
  PeerStatus,
  type PeerStatusTimings,
} from "./peer-status.js";
import { devicePeers, formatPeerChanges, type PeerChange } from "./peer-uapi.js";
import { probePacket } from "./probe.js";
import {
  type MeshStateView,
  observedEndpoints,
  type ResourceKind,
  type ResourceRow,
  resourceRows,
} from "./resources.js";

/** What routing the node needs from the OS (implemented in routing.ts; absent in no-root mode). */
export interface MeshRouting {
  /** Replaces the set of destinations forced into the mesh interface (§4.6 target set). */
  update(targets: readonly string[]): Promise<void>;
  /** Removes every rule, route and table it made. */
  close(): Promise<void>;
}

export interface MeshNodeOptions {
  readonly config: MeshConfig;
  /** Where node-identity.yaml and kubespan-identity.yaml live (created 0700). */
  readonly stateDir: string;
  /** The packet interface (already configured with the node address); required. */
  readonly tun: TunDevice;
  /** OS routing; omitted = none (in-process meshes, demo). */
  readonly routing?: MeshRouting | null;
  /** UDP bind for the Device (default a UdpBind on all addresses). */
  readonly bind?: Bind;
  /** Advertised endpoints given explicitly (`ip:port`), instead of the interfaces' addresses. */
  readonly endpoints?: readonly string[];
  /** Node (underlay) addresses published in the affiliate; default: this host's addresses. */
  readonly addresses?: readonly string[];
  /** Publish the discovery `client_ip` as an extra endpoint (§1.6). Default true. */
  readonly publishPublicIp?: boolean;
  /** MAC for the EUI-64 address (§3); default the first hardware MAC, null for key-derived. */
  readonly mac?: Uint8Array | null;
  /** Peer status timings (tests shorten them). */
  readonly timings?: Partial<PeerStatusTimings>;
  /** Persistent keepalive override in seconds (tests pair it with short timings); default 25. */
  readonly keepaliveSeconds?: number;
  /** Upper bound between two reconcile passes (Talos's 30 s tick, §4.2). */
  readonly reconcileIntervalMs?: number;
  /** Control socket for `wirespan get` (default `<stateDir>/wirespan.sock`; false = none). */
  readonly controlSocket?: string | false;
  /** Serve the UAPI socket for `wg show` (directory; default /var/run/wireguard; false = off). */
  readonly uapiDir?: string | false;
  readonly discoveryBackoff?: Partial<BackoffOptions>;
  readonly logger?: Logger;
  /** Clock, ms since the epoch (must agree with the Device's handshake times: wall clock). */
  readonly now?: () => number;
}

/** A peer's status as reported to `wirespan get peerstatuses`. */
export interface PeerStatusView {
  readonly publicKey: string;
  readonly affiliateId: string;
  readonly label: string;
  readonly endpoint: string | null;
  readonly state: PeerState;
  readonly receiveBytes: bigint;
  readonly transmitBytes: bigint;
  /** ms since the epoch, null = never. */
  readonly lastHandshakeTime: number | null;
  readonly lastUsedEndpoint: string | null;
  readonly lastEndpointChange: number | null;
}

/** An endpoint observed for a peer that is up (Talos `KubeSpanEndpoint`, §4.5). */
export interface ObservedEndpoint {
  readonly publicKey: string;
  readonly affiliateId: string;
  readonly endpoint: string;
}

export interface MeshNodeEvents {
  /** Peer status changed (state or endpoint), peers added or removed. */
  change: [];
  /** Peer specs changed (affiliates came, went or changed). */
  specs: [];
}

interface PeerEntry {
  spec: PeerSpec;
  status: PeerStatus;
  /** Allowed IPs as last written to the Device (joined), null = not configured yet. */
  configured: string | null;
  /** Kept although its affiliate is gone from discovery (see the file comment). */
  retained: boolean;
  /** When to switch persistent keepalive on (ms), null once it is on. */
  keepaliveAt: number | null;
}

/**
 * wirespan extension: when two nodes learn of each other at the same moment and both initiate,
 * each answers the other's initiation and drops the answer to its own (the responder side
 * replaces the handshake state, whitepaper §5.4.2), so neither session completes until the
 * REKEY_TIMEOUT (5 s) retransmit. Only the node with the smaller public key initiates at once;
 * the other switches its keepalive (and so its initiation) on this much later, unless a
 * handshake has completed by then.
 */
export const SecondInitiatorDelayMs = 1_000;

const OS_NAME = "wirespan";

/** A running mesh node. Create with {@link MeshNode.start}; stop with {@link close}. */
export class MeshNode extends EventEmitter<MeshNodeEvents> {
  readonly device: Device;
  readonly discovery: DiscoveryClient | null;
  readonly identity: KubeSpanIdentity;
  readonly nodeId: string;
  private readonly logger: Logger;
  private readonly timings: PeerStatusTimings;
  private readonly now: () => number;
  private readonly peers = new Map<string, PeerEntry>();
  /** Last affiliates from discovery (without retained ones). */
  private affiliates = new Map<string, DiscoveredAffiliate>();
  /** Affiliates no longer listed by discovery, kept while their peer is up. */
  private readonly retained = new Map<string, DiscoveredAffiliate>();
  /** Everything the last spec build used (to retain a vanished affiliate's record). */
  private lastAffiliates = new Map<string, DiscoveredAffiliate>();
  private specsDirty = true;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private passQueued = false;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private uapi: UapiServer | null = null;
  private control: ControlServer | null = null;
  private lastTargets = "";
  private lastLocal = "";
  private warnings = new Set<string>();
  /** Sequence number of the next probe (probe.ts). */
  private probeSeq = 0;

  private constructor(
    private readonly options: MeshNodeOptions,
    device: Device,
    identity: KubeSpanIdentity,
    nodeId: string,
  ) {
    super();
    this.device = device;
    this.identity = identity;
    this.nodeId = nodeId;
    this.logger = options.logger ?? silentLogger;
    this.timings = { ...DefaultPeerStatusTimings, ...options.timings };
    this.now = options.now ?? Date.now;
    const { config } = options;
    const discovery = config.cluster.discovery;
    this.discovery =
      discovery.enabled && discovery.service.enabled
        ? new DiscoveryClient({
            endpoint: discovery.service.endpoint,
            clusterId: config.cluster.id,
            clusterSecret: config.cluster.secret,
            affiliateId: nodeId,
            port: device.listenPort,
            // client_ip goes into the §4.3 list here (localAffiliate), not appended after it.
            appendClientIp: false,
            clientVersion: OS_NAME,
            backoff: options.discoveryBackoff,
            log: (m) => this.logger.verbose(m),
          })
        : null;
  }

  /**
   * Loads the identities, starts the Device on the configured port with the node's key, serves
   * UAPI, registers with discovery and runs the loop.
   */
  static async start(options: MeshNodeOptions): Promise<MeshNode> {
    const { config, stateDir } = options;
    const { nodeId } = loadOrCreateNodeIdentity(stateDir);
    const mac =
      options.mac !== undefined ? options.mac : firstHardwareMac([config.kubespan.interface]);
    const identity = loadOrCreateKubeSpanIdentity(stateDir, config.cluster.id, mac);
    const device = await Device.create({
      tun: options.tun,
      bind: options.bind ?? new UdpBind(),
      logger: options.logger,
      mtu: config.kubespan.mtu,
      listenPort: config.kubespan.port,
    });
    const node = new MeshNode(options, device, identity, nodeId);
    try {
      await node.init();
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  private async init(): Promise<void> {
    const key = Buffer.from(this.identity.privateKey, "base64").toString("hex");
    // fwmark 0x20 (§4.6): our own encrypted UDP stays out of the tunnel where the bind can mark
    // its socket; routing.ts also exempts it by source port where it cannot.
    const mark = this.options.routing ? "fwmark=32\n" : "";
    const rc = await this.device.ipcSet(`private_key=${key}\n${mark}`);
    if (rc !== 0) throw new Error(`configuring the device failed (errno ${-rc})`);
    if (this.options.uapiDir !== false) {
      this.uapi = await UapiServer.listen(this.options.tun.name, this.device, {
        dir: this.options.uapiDir,
        logger: this.logger,
      });
    }
    if (this.options.controlSocket !== false) {
      const path = this.options.controlSocket ?? controlSocketPath(this.options.stateDir);
      this.control = await ControlServer.listen(path, {
        rows: (kind, opts) => this.rows(kind, opts),
        subscribe: (listener) => {
          this.on("change", listener);
          this.on("specs", listener);
          return () => {
            this.off("change", listener);
            this.off("specs", listener);
          };
        },
      });
    }
    this.device.onEvent((_peer, event) => {
      if (
        event.type === "handshake-completed" ||
        event.type === "endpoint-changed" ||
        event.type === "handshake-gave-up"
      ) {
        this.schedule();
      }
    });
    if (this.discovery) {
      this.discovery.on("affiliates", (all) => {
        this.affiliates = all;
        this.specsDirty = true;
        this.schedule();
      });
      // A new client_ip changes the advertised endpoints (§4.3 step 2).
      this.discovery.on("publicIp", () => this.publishLocal());
      this.discovery.on("connected", (up) =>
        this.logger.verbose(`discovery ${up ? "connected" : "disconnected"}`),
      );
      this.publishLocal();
      this.discovery.start();
    }
    this.schedule();
  }

  /** The local affiliate (§2.4) and the endpoints to advertise (§4.3). */
  localAffiliate(): { data: AffiliateData; endpoints: string[] } {
    const ks = this.options.config.kubespan;
    const ula = identityAddressIp(this.identity);
    const addresses = this.options.addresses ?? localAddresses([this.options.tun.name]);
    const port = this.device.listenPort;
    // §4.3: node addresses, then the discovery client_ip if not among them, then the filters,
    // then the extra announced endpoints (deduplicated).
    const publicIp =
      this.options.publishPublicIp === false ? null : (this.discovery?.publicIp ?? null);
    let endpoints: string[];
    if (this.options.endpoints !== undefined) {
      // Given explicitly: they stand for the filtered addresses; client_ip still follows them.
      endpoints = [...this.options.endpoints];
      if (publicIp !== null) {
        const ep = formatIpPort(parseIp(publicIp), port);
        if (!endpoints.includes(ep)) endpoints.push(ep);
      }
    } else {
      endpoints = advertisedEndpoints({
        addresses,
        publicIp,
        filters: ks.filters.endpoints,
        extraEndpoints: ks.extraAnnouncedEndpoints,
        port,
      });
    }
    const data: AffiliateData = {
      nodeId: this.nodeId,
      // Talos publishes the routed node addresses including the KubeSpan address (§2.4).
      addresses: [...addresses, ula],
      hostname: this.options.config.hostname,
      nodename: "", // not a Kubernetes node: keep Talos from making us a Member (§2.4)
      machineType: "worker",
      operatingSystem: OS_NAME,
      kubespan: {
        publicKey: this.identity.publicKey,
        address: ula,
        additionalAddresses: [...ks.advertisedNetworks],
      },
      controlPlane: null,
    };
    return { data, endpoints };
  }

  /** Pushes the local affiliate and harvested endpoints (the client sends only changes). */
  private publishLocal(): void {
    if (!this.discovery) return;
    const { data, endpoints } = this.localAffiliate();
    const harvested = new Map<string, string[]>();
    if (this.options.config.kubespan.harvestExtraEndpoints) {
      for (const e of this.observedEndpoints()) harvested.set(e.affiliateId, [e.endpoint]);
    }
    const key = JSON.stringify([data, endpoints, [...harvested]]);
    if (key === this.lastLocal) return;
    this.lastLocal = key;
    this.discovery.setLocalData(data, endpoints, harvested);
  }

  /** Runs a reconcile pass soon (coalesced; passes never overlap). */
  private schedule(): void {
    if (this.closed || this.passQueued) return;
    this.passQueued = true;
    setImmediate(() => {
      this.passQueued = false;
      this.running = this.running
        .then(() => this.pass())
        .catch((err) => {
          this.logger.error(`reconcile failed: ${err instanceof Error ? err.message : err}`);
        });
    });
  }

  /** One pass of §4.2. */
  private async pass(): Promise<void> {
    if (this.closed) return;
    const now = this.now();
    if (this.specsDirty) this.rebuildSpecs();
    const snapshots = devicePeers(this.device.engine.peers());
    const changes: PeerChange[] = [];
    let changed = false;
    const psk = this.options.config.cluster.secret;
    for (const [key, entry] of this.peers) {
      const { spec, status } = entry;
      const snap = snapshots.get(key) ?? null;
      const decision = status.reconcile(
        spec.endpoints,
        entry.configured === null ? null : snap,
        now,
      );
      if (decision.stateChanged || decision.endpointChanged) {
        changed = true;
        this.logger.verbose(
          `peer ${spec.label || key}: ${decision.previousState} → ${decision.state}` +
            (decision.endpointChanged ? ` (endpoint ${decision.setEndpoint})` : ""),
        );
      }
      if (entry.retained && status.state !== "up") {
        this.logger.verbose(`peer ${spec.label || key}: gone from discovery and not up, removed`);
        this.peers.delete(key);
        this.retained.delete(spec.affiliateId);
        changed = true; // the device peer is removed below, with every other unwanted one
        continue;
      }
      const allowed = spec.allowedIPs.join(",");
      const change: {
        publicKey: string;
        presharedKey?: string;
        endpoint?: string;
        persistentKeepalive?: number;
        allowedIPs?: readonly string[];
      } = { publicKey: key };
      let needed = false;
      if (entry.configured === null) {
        change.presharedKey = psk;
        needed = true;
        entry.keepaliveAt = this.initiatesFirst(key) ? now : now + SecondInitiatorDelayMs;
      }
      if (entry.keepaliveAt !== null && entry.keepaliveAt <= now) {
        change.persistentKeepalive = this.options.keepaliveSeconds ?? spec.persistentKeepalive;
        entry.keepaliveAt = null;
        needed = true;
      }
      if (entry.configured !== allowed) {
        change.allowedIPs = spec.allowedIPs;
        needed = true;
      }
      const current = snap?.endpoint ?? null;
      if (decision.setEndpoint !== null && decision.setEndpoint !== current) {
        change.endpoint = decision.setEndpoint;
        needed = true;
      }
      if (needed) {
        changes.push(change);
        entry.configured = allowed;
      }
      if (entry.configured !== null && snap !== null && status.probeDue(now)) {
        this.probe(key, entry, now);
      }
    }
    // Peers on the device that no spec wants any more.
    for (const key of snapshots.keys()) {
      if (!this.peers.has(key)) changes.push({ publicKey: key, remove: true });
    }
    if (changes.length > 0) {
      const rc = await this.device.ipcSet(formatPeerChanges(changes));
      if (rc !== 0) {
        this.logger.error(`configuring peers failed (errno ${-rc})`);
        for (const c of changes) {
          const e = this.peers.get(c.publicKey);
          if (e) e.configured = null; // retried on the next pass
        }
      }
    }
    await this.updateRouting();
    this.publishLocal();
    if (changed) this.emit("change");
    this.arm(now);
  }

  /**
   * Sends one liveness probe to a peer (probe.ts): an echo request from our KubeSpan address to
   * its one, into the tunnel. Only when the peer's KubeSpan address routes to it; otherwise the
   * probe rule stays off for that peer (Talos timings only).
   */
  private probe(key: string, entry: PeerEntry, now: number): void {
    const { spec, status } = entry;
    if (!spec.address || !routesTo(spec.allowedIPs, spec.address)) return;
    const first = status.probeSentAt === null;
    const pkt = probePacket(identityAddressIp(this.identity), spec.address, this.probeSeq++);
    if (!this.device.sendToTunnel(pkt)) return;
    status.recordProbe(now);
    if (first) {
      const since = Math.max(status.lastReceiveChange ?? 0, status.lastHandshakeTime ?? 0);
      this.logger.verbose(
        `peer ${spec.label || key}: silent for ${Math.round((now - since) / 1000)} s, probing`,
      );
    } else if (status.state === "up") {
      this.logger.verbose(`peer ${spec.label || key}: probe unanswered, probing again`);
    }
  }

  /** Peer specs from the affiliates (plus retained ones) and the entries that follow them. */
  private rebuildSpecs(): void {
    this.specsDirty = false;
    // Affiliates that vanished while their peer is up are retained (file comment).
    for (const entry of this.peers.values()) {
      const id = entry.spec.affiliateId;
      if (!this.affiliates.has(id) && !this.retained.has(id) && entry.status.state === "up") {
        const last = this.lastAffiliates.get(id);
        if (last) this.retained.set(id, last);
      }
    }
    for (const id of this.affiliates.keys()) this.retained.delete(id);
    const all = new Map([...this.retained, ...this.affiliates]);
    this.lastAffiliates = all;
    const { peers, warnings } = buildPeerSpecs(all.values(), {
      nodeId: this.nodeId,
      publicKey: this.identity.publicKey,
    });
    for (const w of warnings) {
      if (!this.warnings.has(w)) this.logger.error(w);
    }
    this.warnings = new Set(warnings);
    const wanted = new Map(peers.map((p) => [p.publicKey, p]));
    for (const key of [...this.peers.keys()]) if (!wanted.has(key)) this.peers.delete(key);
    for (const [key, spec] of wanted) {
      const entry = this.peers.get(key);
      const retained = this.retained.has(spec.affiliateId);
      if (entry) {
        entry.spec = spec;
        entry.status.label = spec.label;
        entry.retained = retained;
      } else {
        this.peers.set(key, {
          spec,
          status: new PeerStatus(spec.label, this.timings),
          configured: null,
          retained,
          keepaliveAt: null,
        });
      }
    }
    this.emit("specs");
  }

  /**
   * The §4.6 target set: every peer's allowed IPs except KubeSpan ULAs (on-link through the
   * interface address), for all peers when routing is forced (`allowDownPeerBypass: false`),
   * else only for peers that are up.
   */
  routingTargets(): string[] {
    const subnet = parseCidr(this.identity.subnet);
    const force = !this.options.config.kubespan.allowDownPeerBypass;
    const prefixes = [];
    for (const { spec, status } of this.peers.values()) {
      if (!force && status.state !== "up") continue;
      for (const text of spec.allowedIPs) {
        const p = parseCidr(text);
        if (p.family === 6 && p.bits >= 64 && isInside(subnet, p)) continue;
        prefixes.push(p);
      }
    }
    return IpSet.of(prefixes)
      .prefixes()
      .map((p) => formatCidr(p));
  }

  private async updateRouting(): Promise<void> {
    const routing = this.options.routing;
    if (!routing) return;
    const targets = this.routingTargets();
    const key = targets.join(",");
    if (key === this.lastTargets) return;
    await routing.update(targets);
    this.lastTargets = key;
  }

  /** One timer, at the earliest moment a peer's state can change (or the 30 s tick). */
  private arm(now: number): void {
    if (this.closed) return;
    let next = now + (this.options.reconcileIntervalMs ?? DefaultPeerReconcileIntervalMs);
    for (const { status, keepaliveAt } of this.peers.values()) {
      next = Math.min(next, status.nextCheckAt(now), keepaliveAt ?? Infinity);
    }
    if (this.timer !== null && this.timerAt <= next && this.timerAt > now) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.schedule();
      },
      Math.max(0, next - this.now()),
    );
  }

  /** True when this node's public key sorts before the peer's (see {@link SecondInitiatorDelayMs}). */
  private initiatesFirst(peerKey: string): boolean {
    const own = Buffer.from(this.identity.publicKey, "base64");
    return Buffer.compare(own, Buffer.from(peerKey, "base64")) < 0;
  }

  /** Runs a pass now and waits for it (tests, `get` right after a change). */
  async reconcile(): Promise<void> {
    this.schedule();
    await new Promise((r) => setImmediate(r));
    await this.running;
  }

  peerSpecs(): PeerSpec[] {
    return [...this.peers.values()].map((e) => e.spec);
  }

  peerStatuses(): PeerStatusView[] {
    return [...this.peers.entries()].map(([key, { spec, status }]) => ({
      publicKey: key,
      affiliateId: spec.affiliateId,
      label: status.label,
      endpoint: status.endpoint,
      state: status.state,
      receiveBytes: status.receiveBytes,
      transmitBytes: status.transmitBytes,
      lastHandshakeTime: status.lastHandshakeTime,
      lastUsedEndpoint: status.lastUsedEndpoint,
      lastEndpointChange: status.lastEndpointChange,
    }));
  }

  /** Endpoints WireGuard reports for peers that are up (§4.5). */
  observedEndpoints(): ObservedEndpoint[] {
    return observedEndpoints(this.stateView());
  }

  /** The state `wirespan get` shows (resources.ts). */
  stateView(): MeshStateView {
    const statuses = new Map<string, PeerStatus>();
    for (const [key, e] of this.peers) statuses.set(key, e.status);
    return { identity: this.identity, peerSpecs: this.peerSpecs(), peerStatuses: statuses };
  }

  /** Rows of one resource kind (resources.ts). */
  rows(kind: ResourceKind, options: { showSecrets?: boolean } = {}): ResourceRow[] {
    return resourceRows(kind, this.stateView(), options);
  }

  /**
   * Stops the node: timers, discovery (the affiliate is deleted only with `leave`, like a Talos
   * reset; a restart keeps it), UAPI socket, Device and routing.
   */
  async close(opts: { leave?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running.catch(() => {});
    await this.discovery?.stop({ deleteAffiliate: opts.leave ?? false });
    await this.uapi?.close();
    await this.control?.close();
    await this.device.close();
    await this.options.routing?.close();
  }
}

/** True when one of the allowed IPs contains `ip` (so a packet to it is routed to that peer). */
function routesTo(allowedIPs: readonly string[], ip: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = parseIp(ip);
  } catch {
    return false;
  }
  return allowedIPs.some((c) => cidrContains(parseCidr(c), bytes));
}

function isInside(
  outer: ReturnType<typeof parseCidr>,
  inner: ReturnType<typeof parseCidr>,
): boolean {
  if (outer.family !== inner.family || inner.bits < outer.bits) return false;
  const full = Math.floor(outer.bits / 8);
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rest = outer.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (outer.bytes[full] & mask) === (inner.bytes[full] & mask);
}
