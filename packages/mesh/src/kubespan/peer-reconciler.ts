/**
 * Peer reconciliation of the mesh controller (reference/kubespan.md §4.1, §4.2, §4.4): the peer
 * table built from the affiliates, and per pass the UAPI changes that bring the Device in line
 * with it — first configuration (PSK = cluster secret), keepalive, allowed IPs, the endpoint the
 * peer status chose — plus the peers due a liveness probe.
 *
 * Discovery outages: an affiliate that disappears from discovery (service restarted empty,
 * watch snapshot missing it) keeps its peer while that peer is `up`; it is removed once it is no
 * longer up. Established tunnels therefore survive a discovery restart (§4.8), while a node that
 * really left drops out as soon as its tunnel goes quiet.
 *
 * Work per pass is proportional to what changed, not to the number of peers (issue #13): a pass
 * visits only the peers peer-agenda.ts says are dirty or due, and reads each of them alone from
 * the Device ({@link DeviceView.activity}; before, every pass copied every peer's keys and
 * allowed IPs). Talos's 30 s reconcile of every peer stays as a sweep
 * ({@link PeerReconciler.sweep}), which also removes device peers no spec wants.
 */
import type { Logger } from "../logger.js";
import type { DiscoveredAffiliate } from "./affiliate.js";
import { PeerAgenda } from "./peer-agenda.js";
import { buildPeerSpecs, type PeerSpec } from "./peer-spec.js";
import { type PeerSnapshot, PeerStatus, type PeerStatusTimings } from "./peer-status.js";
import type { PeerChange } from "./peer-uapi.js";

/**
 * wirespan extension: when two nodes learn of each other at the same moment and both initiate,
 * each answers the other's initiation and drops the answer to its own (the responder side
 * replaces the handshake state, whitepaper §5.4.2), so neither session completes until the
 * REKEY_TIMEOUT (5 s) retransmit. Only the node with the smaller public key initiates at once;
 * the other switches its keepalive (and so its initiation) on this much later, unless a
 * handshake has completed by then. The handshake that proves a rotated endpoint is staggered
 * the same way.
 */
export const SecondInitiatorDelayMs = 1_000;

export interface PeerEntry {
  spec: PeerSpec;
  status: PeerStatus;
  /** Allowed IPs as last written to the Device (joined), null = not configured yet. */
  configured: string | null;
  /** Kept although its affiliate is gone from discovery (see the file comment). */
  retained: boolean;
  /** When to switch persistent keepalive on (ms), null once it is on. */
  keepaliveAt: number | null;
  /**
   * When to start the handshake that proves a rotated endpoint (ms), null = none pending. §4.4
   * judges the new endpoint by a handshake within EndpointConnectionTimeout of the change;
   * waiting for WireGuard's own timers instead (the retransmit of an initiation that went to the
   * old endpoint, or the new-handshake timer at KEEPALIVE + REKEY_TIMEOUT = the timeout itself)
   * raced that window, and a live peer with a valid session, wrongly declared down, never
   * handshook at all until its rekey — so it kept cycling.
   */
  handshakeAt: number | null;
  /** NAT traversal: the path endpoint last written to the Device, null = none written. */
  pathEndpoint?: string | null;
}

export interface ReconcilerOptions {
  readonly nodeId: string;
  /** This node's WireGuard public key (base64). */
  readonly publicKey: string;
  /** The cluster's KubeSpan subnet: peers' KubeSpan addresses must lie in it. */
  readonly subnet: string;
  /** This node's own addresses and prefixes, which no peer may claim (read at each rebuild). */
  readonly ownAddresses: () => readonly string[];
  /** Base64 cluster secret, the PSK of every peer (§4.6). */
  readonly presharedKey: string;
  readonly timings: PeerStatusTimings;
  /** Persistent keepalive override in seconds; default the spec's (25 s). */
  readonly keepaliveSeconds?: number;
  readonly logger: Logger;
  /**
   * NAT traversal (nat/nat-traversal.ts): the endpoint the engine should have for a peer whose
   * path it manages (direct or relay endpoint), null when it has none (Talos cycling applies).
   */
  readonly pathEndpoint?: (publicKey: string) => string | null;
}

/** The Device as a pass reads it. */
export interface DeviceView {
  /** One peer's endpoint, handshake time and counters; null when the device has no such peer. */
  activity(publicKey: string): PeerSnapshot | null;
  /** Every peer on the device (read on a sweep only). */
  keys(): Iterable<string>;
}

/** Work done so far, for the mesh simulation's figures. */
export interface ReconcilerWork {
  passes: number;
  /** Peers visited by passes (a pass over every peer adds the number of peers). */
  peerVisits: number;
  /** Peer spec rebuilds (one per batch of affiliate changes). */
  specBuilds: number;
}

/** What one pass wants done. */
export interface PeerPlan {
  /** UAPI changes, removals of peers no spec wants included. */
  readonly changes: PeerChange[];
  /** Some peer's state or endpoint changed, or a peer was dropped. */
  readonly changed: boolean;
  /** Configured peers the device has that are due a liveness probe now. */
  readonly probes: [string, PeerEntry][];
  /** Peers to start a handshake with, once `changes` are applied (their new endpoint). */
  readonly handshakes: string[];
  /** This pass was a sweep over every peer. */
  readonly swept: boolean;
}

export class PeerReconciler {
  readonly peers = new Map<string, PeerEntry>();
  /** Last affiliates from discovery (without retained ones). */
  private affiliates = new Map<string, DiscoveredAffiliate>();
  /** Affiliates no longer listed by discovery, kept while their peer is up. */
  private readonly retained = new Map<string, DiscoveredAffiliate>();
  /** Everything the last spec build used (to retain a vanished affiliate's record). */
  private lastAffiliates = new Map<string, DiscoveredAffiliate>();
  private specsDirty = true;
  private warnings = new Set<string>();
  /** Address claims refused or trimmed in the current specs (peer-spec.ts). */
  refusedClaims = 0;
  readonly work: ReconcilerWork = { passes: 0, peerVisits: 0, specBuilds: 0 };
  private readonly agenda = new PeerAgenda();
  /** Peers dropped from the table whose device peer the next pass removes. */
  private readonly dropped = new Set<string>();
  /** The next pass visits every peer and looks for unwanted device peers. */
  private sweepDue = true;

  constructor(private readonly options: ReconcilerOptions) {}

  /** New affiliates from discovery; the specs are rebuilt on the next pass. */
  setAffiliates(all: Map<string, DiscoveredAffiliate>): void {
    this.affiliates = all;
    this.specsDirty = true;
  }

  /** Rebuilds the specs if the affiliates changed; true when it did. */
  refreshSpecs(): boolean {
    if (!this.specsDirty) return false;
    this.rebuildSpecs();
    return true;
  }

  /** Visit this peer on the next pass (a Device event about it). */
  markDirty(publicKey: string): void {
    if (this.peers.has(publicKey)) this.agenda.markDirty(publicKey);
  }

  /** Make the next pass visit every peer and remove device peers no spec wants (§4.2's tick). */
  sweep(): void {
    this.sweepDue = true;
  }

  /**
   * One pass (§4.2) over the peers that are dirty or due at `now` (monotonic ms) — every peer on
   * a sweep — reading each from `device`; `wallNow` is the wall clock the device's handshake
   * times are in (peer-status.ts).
   */
  plan(device: DeviceView, now: number, wallNow: number): PeerPlan {
    const changes: PeerChange[] = [];
    const probes: [string, PeerEntry][] = [];
    const handshakes: string[] = [];
    let changed = false;
    const { logger } = this.options;
    const swept = this.sweepDue;
    this.sweepDue = false;
    this.work.passes++;
    for (const key of this.dropped) {
      if (!this.peers.has(key) && device.activity(key) !== null) {
        changes.push({ publicKey: key, remove: true });
      }
    }
    this.dropped.clear();
    const visit = this.agenda.take(now);
    if (swept) for (const key of this.peers.keys()) visit.add(key);
    for (const key of visit) {
      const entry = this.peers.get(key);
      if (entry === undefined) continue;
      this.work.peerVisits++;
      const { spec, status } = entry;
      const snap = device.activity(key);
      const path = this.options.pathEndpoint?.(key) ?? null;
      if (path !== null && !entry.pathEndpoint) {
        // Becoming path-managed: forget the endpoint Talos cycling chose, so the state follows
        // the handshakes (§4.4 with no endpoint change of ours), not a window that an existing
        // session never "answers" with a new handshake.
        status.lastEndpointChange = null;
        status.lastUsedEndpoint = null;
      }
      // A managed path replaces endpoint cycling: the state then follows handshakes only (§4.4
      // with no endpoint change of ours), and the endpoint is written when the path changes —
      // not against the engine's roaming, which the path bind routes onto the chosen path.
      const decision = status.reconcile(
        path === null ? this.candidates(entry) : [],
        entry.configured === null ? null : snap,
        now,
        wallNow,
      );
      let setEndpoint = decision.setEndpoint;
      if (path !== null) {
        setEndpoint = path !== entry.pathEndpoint ? path : null;
        entry.pathEndpoint = path;
      } else if (entry.pathEndpoint) {
        entry.pathEndpoint = null;
      }
      if (decision.stateChanged || decision.endpointChanged) {
        changed = true;
        logger.verbose(
          `peer ${spec.label || key}: ${decision.previousState} → ${decision.state}` +
            (decision.endpointChanged ? ` (endpoint ${decision.setEndpoint})` : ""),
        );
      }
      if (entry.retained && status.state !== "up") {
        logger.verbose(`peer ${spec.label || key}: gone from discovery and not up, removed`);
        this.forget(key);
        this.retained.delete(spec.affiliateId);
        changed = true;
        if (snap !== null) changes.push({ publicKey: key, remove: true });
        continue;
      }
      const change = this.peerChange(key, entry, snap?.endpoint ?? null, setEndpoint, now);
      if (change !== null) changes.push(change);
      if (decision.rotated) {
        entry.handshakeAt = this.initiatesFirst(key) ? now : now + SecondInitiatorDelayMs;
      }
      if (entry.handshakeAt !== null && entry.handshakeAt <= now) {
        entry.handshakeAt = null;
        // Not when the peer's own handshake already answered for the new endpoint.
        const since = status.lastEndpointChange ?? -Infinity;
        if ((status.lastHandshakeTime ?? -Infinity) <= since) handshakes.push(key);
      }
      if (entry.configured !== null && snap !== null && status.probeDue(now)) {
        probes.push([key, entry]);
      }
      this.reschedule(key, entry, now);
    }
    if (swept) {
      // Peers on the device that no spec wants (also ones configured behind our back).
      for (const key of device.keys()) {
        if (!this.peers.has(key)) changes.push({ publicKey: key, remove: true });
      }
    }
    return { changes, changed, probes, handshakes, swept };
  }

  /** Files the peer under its next deadline: status change or probe, keepalive, handshake. */
  private reschedule(key: string, entry: PeerEntry, now: number): void {
    this.agenda.schedule(
      key,
      Math.min(
        entry.status.nextCheckAt(now),
        entry.keepaliveAt ?? Infinity,
        entry.handshakeAt ?? Infinity,
      ),
    );
  }

  /** Drops a peer from the table and its deadline. */
  private forget(key: string): void {
    this.peers.delete(key);
    this.agenda.drop(key);
  }

  /** The Device refused the changes: those peers are configured again on the next pass. */
  configureFailed(changes: readonly PeerChange[]): void {
    for (const c of changes) {
      const e = this.peers.get(c.publicKey);
      if (e) {
        e.configured = null;
        e.pathEndpoint = null;
        this.agenda.markDirty(c.publicKey);
      } else if (c.remove) this.dropped.add(c.publicKey);
    }
  }

  /**
   * The earliest moment a peer's state can change or its keepalive or handshake is due, at most
   * `cap`; `now` when some peer waits to be visited.
   */
  nextDeadline(now: number, cap: number): number {
    if (this.sweepDue) return now;
    return Math.min(this.agenda.next(now) ?? cap, cap);
  }

  /**
   * The endpoints a peer's status cycles through (§4.4): today the affiliate's advertised ones,
   * in the order received. NAT traversal adds its candidates here.
   */
  private candidates(entry: PeerEntry): readonly string[] {
    return entry.spec.endpoints;
  }

  /** The UAPI change one peer needs (null = none); records it as configured. */
  private peerChange(
    key: string,
    entry: PeerEntry,
    current: string | null,
    setEndpoint: string | null,
    now: number,
  ): PeerChange | null {
    const { spec } = entry;
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
      change.presharedKey = this.options.presharedKey;
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
    if (setEndpoint !== null && setEndpoint !== current) {
      change.endpoint = setEndpoint;
      needed = true;
    }
    if (!needed) return null;
    entry.configured = allowed;
    return change;
  }

  /** Peer specs from the affiliates (plus retained ones) and the entries that follow them. */
  private rebuildSpecs(): void {
    this.specsDirty = false;
    this.work.specBuilds++;
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
    const { peers, warnings, refusedClaims } = buildPeerSpecs(all.values(), {
      nodeId: this.options.nodeId,
      publicKey: this.options.publicKey,
      subnet: this.options.subnet,
      addresses: this.options.ownAddresses(),
    });
    this.refusedClaims = refusedClaims;
    for (const w of warnings) {
      if (!this.warnings.has(w)) this.options.logger.error(w);
    }
    this.warnings = new Set(warnings);
    const wanted = new Map(peers.map((p) => [p.publicKey, p]));
    for (const key of [...this.peers.keys()]) {
      if (!wanted.has(key)) {
        this.forget(key);
        this.dropped.add(key);
      }
    }
    for (const [key, spec] of wanted) {
      const entry = this.peers.get(key);
      const retained = this.retained.has(spec.affiliateId);
      if (entry) {
        if (entry.retained !== retained || !sameSpec(entry.spec, spec)) this.agenda.markDirty(key);
        entry.spec = spec;
        entry.status.label = spec.label;
        entry.retained = retained;
      } else {
        this.agenda.markDirty(key);
        this.peers.set(key, {
          spec,
          status: new PeerStatus(spec.label, this.options.timings),
          configured: null,
          retained,
          keepaliveAt: null,
          handshakeAt: null,
        });
      }
    }
  }

  /** True when this node's public key sorts before the peer's (see {@link SecondInitiatorDelayMs}). */
  private initiatesFirst(peerKey: string): boolean {
    const own = Buffer.from(this.options.publicKey, "base64");
    return Buffer.compare(own, Buffer.from(peerKey, "base64")) < 0;
  }
}

/** The same peer configuration and candidates (specs are rebuilt whole on every change). */
function sameSpec(a: PeerSpec, b: PeerSpec): boolean {
  return (
    a.affiliateId === b.affiliateId &&
    a.address === b.address &&
    a.label === b.label &&
    a.persistentKeepalive === b.persistentKeepalive &&
    (a.wirespan?.homeRelay ?? undefined) === (b.wirespan?.homeRelay ?? undefined) &&
    (a.wirespan == null) === (b.wirespan == null) &&
    sameList(a.allowedIPs, b.allowedIPs) &&
    sameList(a.endpoints, b.endpoints)
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
