/**
 * The running mesh node: Talos's KubeSpan controllers (reference/kubespan.md §4) folded into one
 * event-driven loop around a {@link Device}.
 *
 * - Identity (§2.1, §3): node ID and WireGuard key persisted in the state directory.
 * - Discovery (§1.7): the local affiliate (local-affiliate.ts) is published, the others are
 *   watched; every change rebuilds the peer specs (§4.1).
 * - Reconcile (§4.2, peer-reconciler.ts): read the Device's peers, run each peer's status /
 *   endpoint cycling (§4.4), write the changes through UAPI (the one configuration path),
 *   refresh the routing target set (§4.6, routing-targets.ts) and the harvested endpoints (§4.5).
 * - Scheduling (pass-scheduler.ts): a pass runs on every affiliate change, on every handshake /
 *   endpoint event of the Device, and at the earliest `PeerStatus.nextCheckAt` of all peers —
 *   not only on Talos's 30 s tick (which is kept as the upper bound between passes).
 * - Liveness (wirespan extension, constants.ts / peer-status.ts): a peer that has been silent is
 *   sent a probe through the tunnel (peer-prober.ts) when its status says one is due; only an
 *   unanswered probe makes an `up` peer `down`.
 */
import { EventEmitter } from "node:events";
import { PathBind } from "../bind/path-bind.js";
import { UdpBind } from "../bind/udp-bind.js";
import { Device } from "../device.js";
import { type Logger, silentLogger } from "../logger.js";
import { NatTraversal } from "../nat/nat-traversal.js";
import type { PathView } from "../nat/path-state.js";
import { relayToken } from "../relay/protocol.js";
import { UapiServer } from "../uapi-server.js";
import { firstHardwareMac } from "./addressing.js";
import { DefaultPeerReconcileIntervalMs } from "./constants.js";
import { ControlServer, controlSocketPath } from "./control-socket.js";
import { DiscoveryClient } from "./discovery-client.js";
import { clusterSecretKey } from "./discovery-crypto.js";
import { localAddresses } from "./endpoints.js";
import {
  identityAddressIp,
  type KubeSpanIdentity,
  loadOrCreateKubeSpanIdentity,
  loadOrCreateNodeIdentity,
} from "./identity.js";
import { buildLocalAffiliate, type LocalAffiliate, OS_NAME } from "./local-affiliate.js";
import type {
  MeshNodeEvents,
  MeshNodeOptions,
  ObservedEndpoint,
  PeerStatusView,
} from "./mesh-node-options.js";
import { monotonicNow } from "./monotonic-clock.js";
import { PassScheduler } from "./pass-scheduler.js";
import { PeerProber } from "./peer-prober.js";
import { type DeviceView, PeerReconciler, type ReconcilerWork } from "./peer-reconciler.js";
import type { PeerSpec } from "./peer-spec.js";
import {
  checkPeerStatusTimings,
  DefaultPeerStatusTimings,
  type PeerStatus,
} from "./peer-status.js";
import { deviceView, formatPeerChanges } from "./peer-uapi.js";
import {
  type MeshStateView,
  observedEndpoints,
  type ResourceKind,
  type ResourceRow,
  resourceRows,
} from "./resources.js";
import { RoutingSync, routingTargets } from "./routing-targets.js";

/** A running mesh node. Create with {@link MeshNode.start}; stop with {@link close}. */
export class MeshNode extends EventEmitter<MeshNodeEvents> {
  readonly device: Device;
  readonly discovery: DiscoveryClient | null;
  readonly identity: KubeSpanIdentity;
  readonly nodeId: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly reconciler: PeerReconciler;
  private readonly scheduler: PassScheduler;
  private readonly prober: PeerProber;
  private readonly routing: RoutingSync | null;
  /** NAT traversal (issue #12), when the config lists STUN servers or relays. */
  readonly nat: NatTraversal | null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Shutdown steps that completed (a retried close skips them). */
  private readonly closedSteps = new Set<string>();
  private uapi: UapiServer | null = null;
  private control: ControlServer | null = null;
  private lastLocal = "";
  /** When the last pass over every peer ran (monotonic ms). */
  private lastSweep = -Infinity;
  private readonly deviceView: DeviceView;

  private constructor(
    private readonly options: MeshNodeOptions,
    device: Device,
    paths: PathBind | null,
    identity: KubeSpanIdentity,
    nodeId: string,
  ) {
    super();
    this.device = device;
    this.deviceView = deviceView(device);
    this.identity = identity;
    this.nodeId = nodeId;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? monotonicNow;
    this.wallNow = options.wallNow ?? (() => Date.now());
    const { config } = options;
    this.nat =
      paths !== null
        ? new NatTraversal({
            bind: paths,
            privateKey: Buffer.from(identity.privateKey, "base64"),
            publicKey: Buffer.from(identity.publicKey, "base64"),
            stunServers: config.kubespan.stunServers ?? [],
            relays: config.kubespan.relays ?? [],
            clusterId: config.cluster.id,
            relayToken: relayToken(clusterSecretKey(config.cluster.secret)),
            log: (m) => this.logger.verbose(m),
            now: options.now,
          })
        : null;
    const nat = this.nat;
    this.reconciler = new PeerReconciler({
      nodeId,
      publicKey: identity.publicKey,
      subnet: identity.subnet,
      ownAddresses: () => {
        const { data } = this.localAffiliate();
        return [...data.addresses, ...(data.kubespan?.additionalAddresses ?? [])];
      },
      presharedKey: config.cluster.secret,
      timings: { ...DefaultPeerStatusTimings, ...options.timings },
      keepaliveSeconds: options.keepaliveSeconds,
      logger: this.logger,
      pathEndpoint: nat ? (key) => nat.engineEndpoint(key) : undefined,
    });
    this.scheduler = new PassScheduler(
      () => this.pass(),
      (err) => this.logger.error(`reconcile failed: ${err instanceof Error ? err.message : err}`),
      this.now,
    );
    this.prober = new PeerProber(
      identityAddressIp(identity),
      (pkt) => device.sendToTunnel(pkt),
      this.logger,
    );
    this.routing = options.routing ? new RoutingSync(options.routing) : null;
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
    checkPeerStatusTimings({ ...DefaultPeerStatusTimings, ...options.timings });
    const { nodeId } = loadOrCreateNodeIdentity(stateDir);
    const mac =
      options.mac !== undefined ? options.mac : firstHardwareMac([config.kubespan.interface]);
    const identity = loadOrCreateKubeSpanIdentity(stateDir, config.cluster.id, mac);
    const ks = config.kubespan;
    const bind = options.bind ?? new UdpBind();
    // NAT traversal shares the WireGuard socket (STUN, path probes) and adds relay paths.
    const paths =
      (ks.stunServers?.length ?? 0) + (ks.relays?.length ?? 0) > 0 ? new PathBind(bind) : null;
    const device = await Device.create({
      tun: options.tun,
      bind: paths ?? bind,
      logger: options.logger,
      mtu: config.kubespan.mtu,
      listenPort: config.kubespan.port,
    });
    const node = new MeshNode(options, device, paths, identity, nodeId);
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
    this.device.onEvent((peer, event) => {
      if (
        event.type === "handshake-completed" ||
        event.type === "endpoint-changed" ||
        event.type === "handshake-gave-up"
      ) {
        this.reconciler.markDirty(peer);
        this.schedule();
      }
    });
    if (this.nat) {
      this.nat.on("local", () => this.publishLocal());
      this.nat.on("paths", () => {
        this.reconciler.sweep();
        this.schedule();
      });
      this.nat.start();
    }
    if (this.discovery) {
      this.discovery.on("affiliates", (all) => {
        this.reconciler.setAffiliates(all);
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
  localAffiliate(): LocalAffiliate {
    return buildLocalAffiliate({
      config: this.options.config,
      nodeId: this.nodeId,
      publicKey: this.identity.publicKey,
      address: identityAddressIp(this.identity),
      addresses: this.options.addresses ?? localAddresses([this.options.tun.name]),
      listenPort: this.device.listenPort,
      publicIp: this.options.publishPublicIp === false ? null : (this.discovery?.publicIp ?? null),
      endpoints: this.options.endpoints,
      nat: this.nat
        ? { reflexive: this.nat.reflexiveEndpoints(), homeRelay: this.nat.homeRelay() }
        : undefined,
    });
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
    if (!this.closed) this.scheduler.schedule();
  }

  /** One pass of §4.2. */
  private async pass(): Promise<void> {
    if (this.closed) return;
    const now = this.now();
    const specsChanged = this.reconciler.refreshSpecs();
    if (specsChanged) this.emit("specs");
    this.nat?.update(
      [...this.reconciler.peers.values()]
        .filter((e) => e.spec.wirespan)
        .map((e) => ({
          key: e.spec.publicKey,
          endpoints: e.spec.endpoints,
          homeRelay: e.spec.wirespan?.homeRelay ?? null,
        })),
    );
    const interval = this.options.reconcileIntervalMs ?? DefaultPeerReconcileIntervalMs;
    if (now - this.lastSweep >= interval) {
      this.reconciler.sweep(); // Talos's periodic reconcile of every peer
      this.lastSweep = now;
    }
    const plan = this.reconciler.plan(this.deviceView, now, this.wallNow());
    const { changes, changed, probes } = plan;
    for (const [key, entry] of probes) this.prober.probe(key, entry, now);
    let configured = true;
    if (changes.length > 0) {
      const rc = await this.device.ipcSet(formatPeerChanges(changes));
      if (rc !== 0) {
        configured = false;
        this.logger.error(`configuring peers failed (errno ${-rc})`);
        this.reconciler.configureFailed(changes); // retried on the next pass
      }
    }
    // A rotated endpoint is proven by a handshake we start now (peer-reconciler.ts handshakeAt).
    if (configured) for (const key of plan.handshakes) this.device.initiateHandshake(key);
    // Targets follow specs and states; what we publish follows states and local addresses.
    if (specsChanged || changed || plan.swept) {
      await this.routing?.update(this.routingTargets());
    }
    if (changed || plan.swept) this.publishLocal();
    if (changed) this.emit("change");
    if (!this.closed) this.scheduler.arm(this.reconciler.nextDeadline(now, now + interval), now);
  }

  /**
   * Address claims of peers refused or trimmed in the current peer specs: a default route, this
   * node's addresses, another node's addresses, overlaps (peer-spec.ts).
   */
  get refusedClaims(): number {
    return this.reconciler.refusedClaims;
  }

  /** Reconcile work so far: passes, peers visited, spec rebuilds (the mesh simulation reports it). */
  get reconcileWork(): Readonly<ReconcilerWork> {
    return this.reconciler.work;
  }

  /** The §4.6 target set (routing-targets.ts). */
  routingTargets(): string[] {
    return routingTargets(
      this.reconciler.peers.values(),
      this.identity.subnet,
      !this.options.config.kubespan.allowDownPeerBypass,
    );
  }

  /** Runs a pass now and waits for it (tests, `get` right after a change). */
  async reconcile(): Promise<void> {
    if (this.closed) return;
    await this.scheduler.runNow();
  }

  peerSpecs(): PeerSpec[] {
    return [...this.reconciler.peers.values()].map((e) => e.spec);
  }

  peerStatuses(): PeerStatusView[] {
    return [...this.reconciler.peers.entries()].map(([key, { spec, status }]) => ({
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
      path: this.nat?.view(key) ?? null,
    }));
  }

  /** Endpoints WireGuard reports for peers that are up (§4.5). */
  observedEndpoints(): ObservedEndpoint[] {
    return observedEndpoints(this.stateView());
  }

  /** The state `wirespan get` shows (resources.ts). */
  stateView(): MeshStateView {
    const statuses = new Map<string, PeerStatus>();
    const paths = new Map<string, PathView>();
    for (const [key, e] of this.reconciler.peers) {
      statuses.set(key, e.status);
      const p = this.nat?.view(key);
      if (p) paths.set(key, p);
    }
    return {
      identity: this.identity,
      peerSpecs: this.peerSpecs(),
      peerStatuses: statuses,
      paths,
      now: this.now(),
    };
  }

  /** Rows of one resource kind (resources.ts). */
  rows(kind: ResourceKind, options: { showSecrets?: boolean } = {}): ResourceRow[] {
    return resourceRows(kind, this.stateView(), options);
  }

  /**
   * Stops the node: timers, discovery (the affiliate is deleted only with `leave`, like a Talos
   * reset; a restart keeps it), UAPI socket, Device and routing. Every step runs even when one
   * before it fails — routing (nftables table, rules, table 180) is removed whatever the Device
   * did — and the call rejects with the failure; calling again retries the steps that failed.
   */
  close(opts: { leave?: boolean } = {}): Promise<void> {
    this.closing ??= this.runClose(opts).finally(() => {
      this.closing = null;
    });
    return this.closing;
  }

  private async runClose(opts: { leave?: boolean }): Promise<void> {
    this.closed = true;
    const steps: [string, () => Promise<void> | void][] = [
      ["reconcile", () => this.scheduler.close()],
      ["nat", () => this.nat?.close()],
      ["discovery", () => this.discovery?.stop({ deleteAffiliate: opts.leave ?? false })],
      ["uapi", () => this.uapi?.close()],
      ["control", () => this.control?.close()],
      ["device", () => this.device.close()],
      ["routing", () => this.options.routing?.close()],
    ];
    const errors: unknown[] = [];
    for (const [name, step] of steps) {
      if (this.closedSteps.has(name)) continue;
      try {
        await step();
        this.closedSteps.add(name);
      } catch (err) {
        this.logger.error(`closing ${name} failed: ${err instanceof Error ? err.message : err}`);
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "closing the mesh node failed");
  }
}
