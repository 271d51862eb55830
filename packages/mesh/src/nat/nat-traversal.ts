/**
 * NAT traversal of a mesh node (issue #12; reference/nat-relay.md): the glue between the path
 * bind (bind/path-bind.ts), the STUN client (reflexive endpoints), the path probes and per-peer
 * path state (direct or relayed), and the relay pool. The controller asks it for the endpoints
 * and home relay to publish and, per managed peer (a wirespan peer that announced the
 * extension), for the endpoint to give the engine; it says when either changes.
 *
 * Talos peers are never managed: they get plain WireGuard and Talos's endpoint cycling, and
 * can use the reflexive endpoints like any other.
 */
import { EventEmitter } from "node:events";
import { type Endpoint, formatEndpoint, parseEndpoint } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import type { ChosenPath, PathBind } from "../bind/path-bind.js";
import { RelayEndpoints } from "../relay/relay-endpoints.js";
import { RelayPool } from "../relay/relay-pool.js";
import {
  decodeProbe,
  encodeProbe,
  ProbePing,
  ProbePong,
  probeKey,
  verifyProbe,
} from "./path-probe.js";
import { PathState, type PathView } from "./path-state.js";
import { StunClient } from "./stun-client.js";

export interface NatTraversalOptions {
  readonly bind: PathBind;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** STUN servers (`ip:port`). */
  readonly stunServers: readonly string[];
  /** Relay URLs in order of preference; the first that admits us is home. */
  readonly relays: readonly string[];
  readonly clusterId: string;
  readonly relayToken: Uint8Array;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface NatTraversalEvents {
  /** What this node publishes changed (reflexive endpoints or home relay). */
  local: [];
  /** Some managed peer's path changed. */
  paths: [];
}

export interface ManagedPeer {
  readonly key: string;
  readonly endpoints: readonly string[];
  readonly homeRelay: string | null;
}

/** How often pings are scheduled and paths re-evaluated. */
const TickMs = 250;
const TxidTtlMs = 10_000;

interface Peer {
  readonly key: string;
  readonly keyBytes: Uint8Array;
  readonly macKey: Uint8Array;
  readonly state: PathState;
}

export class NatTraversal extends EventEmitter<NatTraversalEvents> {
  private readonly stun: StunClient;
  private readonly relays: RelayPool | null;
  private readonly peers = new Map<string, Peer>();
  private readonly pending = new Map<string, { peer: string; endpoint: string; at: number }>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly options: NatTraversalOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    const { bind } = options;
    const servers: Endpoint[] = options.stunServers.map((s) => parseEndpoint(s));
    this.stun = new StunClient(servers, (to, data) => bind.sendRaw(to, data));
    this.stun.on("change", (eps) => {
      this.log(
        `reflexive endpoints: ${eps.join(", ") || "none"}${this.stun.symmetric ? " (mapping varies by destination)" : ""}`,
      );
      this.emit("local");
    });
    bind.onStun((data) => this.stun.handle(data));
    bind.onProbe((data, from) => this.onProbe(data, from));
    this.relays =
      options.relays.length > 0
        ? new RelayPool(options.relays, {
            privateKey: options.privateKey,
            publicKey: options.publicKey,
            clusterId: options.clusterId,
            token: options.relayToken,
            log: this.log,
          })
        : null;
    if (this.relays) {
      bind.attachRelays(this.relays);
      this.relays.on("home", (url) => {
        this.log(`home relay: ${url ?? "none reachable"}`);
        this.emit("local");
      });
    }
  }

  start(): void {
    this.stun.start();
    this.timer = setInterval(() => this.tick(), TickMs);
  }

  /** Reflexive endpoints to publish (`ip:port`). */
  reflexiveEndpoints(): string[] {
    return this.stun.endpoints;
  }

  homeRelay(): string | null {
    return this.relays?.home ?? null;
  }

  /** The managed peers, from the specs (called every pass). */
  update(peers: readonly ManagedPeer[]): void {
    const now = this.now();
    const seen = new Set<string>();
    for (const p of peers) {
      seen.add(p.key);
      let peer = this.peers.get(p.key);
      if (!peer) {
        const keyBytes = Buffer.from(p.key, "base64");
        const macKey = probeKey(this.options.privateKey, keyBytes);
        if (macKey === null) continue;
        peer = { key: p.key, keyBytes, macKey, state: new PathState(now) };
        this.peers.set(p.key, peer);
      }
      peer.state.setAdvertised(p.endpoints, now);
      peer.state.homeRelay = p.homeRelay;
    }
    for (const key of [...this.peers.keys()]) if (!seen.has(key)) this.peers.delete(key);
    this.evaluate(now);
    this.syncBind();
  }

  /**
   * The endpoint the engine should have for a managed peer: the chosen direct endpoint, or the
   * relay endpoint of its home relay; null when there is no path yet (or the peer is not managed).
   */
  engineEndpoint(key: string): string | null {
    const path = this.peers.get(key)?.state.chosen;
    if (!path) return null;
    if (path.kind === "direct") return formatEndpoint(path.endpoint);
    return formatEndpoint(this.options.bind.relayEndpoints.endpointFor(path.url, key));
  }

  isManaged(key: string): boolean {
    return this.peers.has(key);
  }

  view(key: string): PathView | null {
    return this.peers.get(key)?.state.view(this.now()) ?? null;
  }

  private tick(): void {
    const now = this.now();
    for (const [tx, p] of this.pending) if (now - p.at > TxidTtlMs) this.pending.delete(tx);
    for (const peer of this.peers.values()) {
      for (const ep of peer.state.duePings(now)) this.ping(peer, ep, now);
    }
    this.evaluate(now);
  }

  private ping(peer: Peer, endpoint: string, now: number): void {
    let to: Endpoint;
    try {
      to = parseEndpoint(endpoint);
    } catch {
      return;
    }
    if (RelayEndpoints.isRelayEndpoint(to)) return;
    const txid = nodeCrypto.randomBytes(12);
    this.pending.set(Buffer.from(txid).toString("hex"), { peer: peer.key, endpoint, at: now });
    this.options.bind.sendRaw(
      to,
      encodeProbe(ProbePing, this.options.publicKey, txid, peer.macKey),
    );
  }

  private onProbe(data: Uint8Array, from: Endpoint): void {
    const m = decodeProbe(data);
    if (m === null) return;
    const peer = this.peers.get(Buffer.from(m.sender).toString("base64"));
    if (!peer || !verifyProbe(m, peer.macKey)) return;
    const now = this.now();
    const source = formatEndpoint(from);
    if (m.type === ProbePing) {
      this.options.bind.sendRaw(
        from,
        encodeProbe(ProbePong, this.options.publicKey, m.txid, peer.macKey, from),
      );
      // The peer reaches us from `source`: a candidate (peer-reflexive), pinged back at once so
      // our NAT opens towards it too.
      if (peer.state.add(source, now)) this.syncBind();
      if (peer.state.chosen?.kind !== "direct") peer.state.pingSoon(source);
      return;
    }
    if (m.type === ProbePong) {
      const tx = Buffer.from(m.txid).toString("hex");
      const p = this.pending.get(tx);
      if (!p || p.peer !== peer.key) return;
      this.pending.delete(tx);
      peer.state.recordPong(p.endpoint, now - p.at, now);
      this.evaluate(now);
    }
  }

  private evaluate(now: number): void {
    let changed = false;
    for (const peer of this.peers.values()) {
      if (peer.state.choose(now, toDirect)) {
        changed = true;
        const v = peer.state.view(now);
        this.log(`peer ${peer.key.slice(0, 8)}: path ${v.path}${v.via ? ` via ${v.via}` : ""}`);
      }
    }
    if (changed) {
      this.syncBind();
      this.emit("paths");
    }
  }

  private syncBind(): void {
    this.options.bind.setPeers(
      [...this.peers.values()].map((p) => ({
        key: p.key,
        endpoints: p.state.endpoints(),
        path: p.state.chosen,
      })),
    );
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stun.close();
    this.relays?.close();
  }
}

function toDirect(text: string): ChosenPath | null {
  try {
    const endpoint = parseEndpoint(text);
    return RelayEndpoints.isRelayEndpoint(endpoint) ? null : { kind: "direct", endpoint };
  } catch {
    return null;
  }
}
