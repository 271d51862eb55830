/**
 * KubeSpan peer status: the `unknown` / `up` / `down` state machine and endpoint cycling of
 * Talos's peer status adapter (reference/kubespan.md §4.4), as pure code driven by the caller's
 * clock (`now`, ms) and snapshots of the WireGuard peer. No timers: the caller asks
 * {@link PeerStatus.nextCheckAt} when to look again.
 *
 * `now` is monotonic: the windows are durations, and an NTP step of the wall clock must not
 * mark every peer down (forward) or freeze them up (backward). The one wall-clock input is the
 * device's last-handshake time (UAPI reports Unix time); {@link PeerStatus.updateFromDevice}
 * turns each new value into the caller's clock once, when it first sees it.
 *
 * The Talos table (15 s / 275 s) is the base. wirespan adds one rule, the active probe
 * (constants.ts explains why receive silence alone cannot work): a peer silent for
 * `probeAfterMs` is due a probe ({@link PeerStatus.probeDue}; the caller sends probe.ts's packet
 * through the tunnel and calls {@link PeerStatus.recordProbe}); any received byte or new
 * handshake answers it; an `up` peer whose probe stayed unanswered for `probeTimeoutMs` is
 * `down`. A live peer always answers, so it is never declared down for being idle.
 */
import {
  REJECT_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
} from "@wirespan/noise/internal";
import {
  EndpointConnectionTimeoutMs,
  MaxPeerCheckIntervalMs,
  PeerDownIntervalMs,
  ProbeAfterSilenceMs,
  ProbeRetryMs,
  ProbeTimeoutMs,
} from "./constants.js";

export type PeerState = "unknown" | "up" | "down";

/** What the WireGuard device reports for a peer (UAPI `get=1` fields). */
export interface PeerSnapshot {
  /** Current endpoint as canonical `ip:port` (roaming included), null when none. */
  readonly endpoint: string | null;
  /** Last handshake as Unix time in nanoseconds; 0n means never. */
  readonly lastHandshakeNs: bigint;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
}

export interface PeerStatusTimings {
  /** §4.4 `EndpointConnectionTimeout`. */
  readonly endpointConnectionTimeoutMs: number;
  /** §4.4 `PeerDownInterval`. */
  readonly peerDownIntervalMs: number;
  /**
   * wirespan extension: a peer whose receive counter and handshake time have not moved for this
   * long is probed. 0 turns the probe rule off (pure Talos behaviour).
   */
  readonly probeAfterMs: number;
  /** wirespan extension: an `up` peer whose probe stayed unanswered this long is `down`. */
  readonly probeTimeoutMs: number;
  /** wirespan extension: interval between repeated probes while one is unanswered. */
  readonly probeRetryMs: number;
  /** Longest gap {@link PeerStatus.nextCheckAt} allows between checks; 0 = only exact deadlines. */
  readonly maxCheckIntervalMs: number;
}

export const DefaultPeerStatusTimings: PeerStatusTimings = {
  endpointConnectionTimeoutMs: EndpointConnectionTimeoutMs,
  peerDownIntervalMs: PeerDownIntervalMs,
  probeAfterMs: ProbeAfterSilenceMs,
  probeTimeoutMs: ProbeTimeoutMs,
  probeRetryMs: ProbeRetryMs,
  maxCheckIntervalMs: MaxPeerCheckIntervalMs,
};

/**
 * The longest a live peer with traffic (persistent keepalive) goes without a handshake: its
 * session is replaced from REKEY_AFTER_TIME on and stays usable until REJECT_AFTER_TIME (180 s);
 * the new handshake is then retried every REKEY_TIMEOUT (5 s) for REKEY_ATTEMPT_TIME (90 s)
 * (whitepaper §6.1, §6.4). Talos's `PeerDownInterval` (275 s) is exactly this sum.
 */
export const LiveHandshakeGapMs = REJECT_AFTER_TIME + REKEY_TIMEOUT + REKEY_ATTEMPT_TIME;

/**
 * Refuses timings the state machine cannot work with (a user error, thrown as a RangeError).
 * The connection timeout must leave room for one handshake retransmit. Tests may shorten the
 * windows, but not the peer-down interval below {@link LiveHandshakeGapMs}:
 * the WireGuard timers that produce handshakes are not shortened with it, so every live pair
 * whose last handshake is older than the interval would be declared `down` (§4.4 first row) —
 * and stay so until its next rekey, up to 2 minutes later.
 */
export function checkPeerStatusTimings(t: PeerStatusTimings): void {
  for (const [name, v] of Object.entries(t)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`peer status timing ${name} must be a finite number ≥ 0, got ${v}`);
    }
  }
  if (t.endpointConnectionTimeoutMs <= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX) {
    throw new RangeError(
      `endpointConnectionTimeoutMs ${t.endpointConnectionTimeoutMs} leaves no handshake ` +
        `retransmit (REKEY_TIMEOUT + jitter = ${REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX} ms): ` +
        "one lost initiation would fail the endpoint",
    );
  }
  if (t.peerDownIntervalMs < LiveHandshakeGapMs) {
    throw new RangeError(
      `peerDownIntervalMs ${t.peerDownIntervalMs} is shorter than a live peer goes without a ` +
        `handshake (${LiveHandshakeGapMs} ms = REJECT_AFTER_TIME + REKEY_TIMEOUT + ` +
        "REKEY_ATTEMPT_TIME): live peers would be declared down",
    );
  }
}

/** Result of one {@link PeerStatus.reconcile} pass. */
export interface PeerDecision {
  readonly previousState: PeerState;
  readonly state: PeerState;
  readonly stateChanged: boolean;
  /**
   * Endpoint to write to the device for this peer, or null to leave the device's endpoint alone
   * (in particular when WireGuard roamed to an endpoint learned from the peer's packets).
   */
  readonly setEndpoint: string | null;
  /** True when a new candidate endpoint was chosen in this pass. */
  readonly endpointChanged: boolean;
  /**
   * True when that choice replaced an earlier one (cycling away from an endpoint that did not
   * produce a handshake in time, or from a peer gone `down`): the new endpoint is proven by a
   * handshake within `endpointConnectionTimeoutMs`, which the caller should start now.
   */
  readonly rotated: boolean;
}

/** The mutable status of one peer (Talos's `PeerStatusSpec` plus receive activity and probes). */
export class PeerStatus {
  /** Endpoint as WireGuard reports it (may be a roamed one). */
  endpoint: string | null = null;
  state: PeerState = "unknown";
  receiveBytes = 0n;
  transmitBytes = 0n;
  /** Last handshake on the caller's clock, ms; null = never. */
  lastHandshakeTime: number | null = null;
  /** Last endpoint the local node chose for the peer. */
  lastUsedEndpoint: string | null = null;
  /** When the local node last chose an endpoint, ms; null = never. */
  lastEndpointChange: number | null = null;
  /** When the receive counter was last seen to move (or first observed), ms. */
  lastReceiveChange: number | null = null;
  /** When the oldest unanswered probe was sent, ms; null = none outstanding. */
  probeSentAt: number | null = null;
  /** When the latest probe was sent, ms (repeats while unanswered); null = none outstanding. */
  lastProbeAt: number | null = null;
  /** The device's last-handshake time (Unix ns) as last seen, and when we last looked. */
  private deviceHandshakeNs = 0n;
  private lastDeviceLook: number | null = null;
  /** Receive counter and handshake time when the outstanding probe was sent: any change answers. */
  private probeRx = 0n;
  private probeHandshake: number | null = null;

  constructor(
    public label: string,
    readonly timings: PeerStatusTimings = DefaultPeerStatusTimings,
  ) {}

  /**
   * Copies the device's view of the peer (Talos `UpdateFromWireguard`). `wallNow` is the wall
   * clock (ms since the epoch) the device's handshake times are in; `now` the caller's clock.
   * A new handshake time becomes `now` minus its age on the wall clock, the age bounded by the
   * time since the previous look (the handshake was not there then), so a wall-clock step
   * between the two looks cannot move it further than that.
   */
  updateFromDevice(snapshot: PeerSnapshot, now: number, wallNow: number = now): void {
    this.endpoint = snapshot.endpoint;
    if (snapshot.lastHandshakeNs !== this.deviceHandshakeNs) {
      this.deviceHandshakeNs = snapshot.lastHandshakeNs;
      if (snapshot.lastHandshakeNs === 0n) this.lastHandshakeTime = null;
      else {
        const age = wallNow - Number(snapshot.lastHandshakeNs / 1_000_000n);
        const bound = this.lastDeviceLook === null ? Infinity : now - this.lastDeviceLook;
        this.lastHandshakeTime = now - Math.min(Math.max(0, age), bound);
      }
    }
    this.lastDeviceLook = now;
    if (this.lastReceiveChange === null || snapshot.rxBytes !== this.receiveBytes) {
      this.lastReceiveChange = now;
    }
    this.receiveBytes = snapshot.rxBytes;
    this.transmitBytes = snapshot.txBytes;
    if (
      this.probeSentAt !== null &&
      (this.receiveBytes !== this.probeRx || this.lastHandshakeTime !== this.probeHandshake)
    ) {
      this.probeSentAt = null; // answered: the peer is alive
      this.lastProbeAt = null;
    }
  }

  /** Computes {@link state} from the timeline of §4.4 (Talos `CalculateStateWithDurations`). */
  calculateState(now: number): PeerState {
    const t = this.timings;
    // "Never" is infinitely long ago, as Go's zero time.Time is.
    const sinceHandshake =
      this.lastHandshakeTime === null ? Infinity : now - this.lastHandshakeTime;
    const sinceChange = this.lastEndpointChange === null ? Infinity : now - this.lastEndpointChange;
    const handshakeAfterChange =
      this.lastHandshakeTime !== null &&
      (this.lastEndpointChange === null || this.lastHandshakeTime > this.lastEndpointChange);
    let state: PeerState;
    if (sinceChange > t.peerDownIntervalMs) {
      state = sinceHandshake < t.peerDownIntervalMs ? "up" : "down";
    } else if (sinceChange < t.endpointConnectionTimeoutMs) {
      state = handshakeAfterChange ? "up" : "unknown";
    } else {
      state = handshakeAfterChange ? "up" : "down";
    }
    // wirespan probe rule (file comment): only an unanswered probe overrides `up`.
    if (state === "up" && this.probeUnansweredFor(now) >= t.probeTimeoutMs) state = "down";
    // Without an endpoint of our own the local node relies on the peer dialling in (§4.4).
    if (state === "down" && this.lastUsedEndpoint === null) state = "unknown";
    this.state = state;
    return state;
  }

  /** Last sign of life: receive counter movement or handshake, ms; null = none observed. */
  private lastActivity(): number | null {
    const activity = Math.max(
      this.lastReceiveChange ?? -Infinity,
      this.lastHandshakeTime ?? -Infinity,
    );
    return activity === -Infinity ? null : activity;
  }

  /** How long the outstanding probe has gone unanswered (-Infinity when none is). */
  private probeUnansweredFor(now: number): number {
    return this.probeSentAt === null ? -Infinity : now - this.probeSentAt;
  }

  /** The time the next probe is due (Infinity when none will be without new input). */
  private nextProbeAt(): number {
    const t = this.timings;
    // Only a peer we once had a session with: before that, the keepalive's handshake does it.
    if (t.probeAfterMs <= 0 || this.lastHandshakeTime === null) return Infinity;
    const activity = this.lastActivity() ?? this.lastHandshakeTime;
    const first = activity + t.probeAfterMs;
    if (this.lastProbeAt === null || this.probeSentAt === null) return first;
    // Repeat quickly until the probe timed out (the peer is then down), slowly after that.
    const retry = this.lastProbeAt + t.probeRetryMs;
    const timedOutAt = this.probeSentAt + t.probeTimeoutMs;
    return Math.max(first, retry < timedOutAt ? retry : this.lastProbeAt + t.probeAfterMs);
  }

  /**
   * wirespan probe rule: true when the caller should send the peer a probe (probe.ts) now, then
   * call {@link recordProbe}. Due after `probeAfterMs` of silence, repeated every
   * `probeRetryMs` while unanswered, every `probeAfterMs` once the peer is down for it.
   */
  probeDue(now: number): boolean {
    return now >= this.nextProbeAt();
  }

  /** Records that a probe was sent now; the receive counter or a handshake moving answers it. */
  recordProbe(now: number): void {
    if (this.probeSentAt === null) {
      this.probeSentAt = now;
      this.probeRx = this.receiveBytes;
      this.probeHandshake = this.lastHandshakeTime;
    }
    this.lastProbeAt = now;
  }

  /** Talos `ShouldChangeEndpoint`: when down, or when no endpoint was ever chosen. */
  shouldChangeEndpoint(): boolean {
    return this.state === "down" || this.lastUsedEndpoint === null;
  }

  /**
   * Talos `PickNewEndpoint`: the first candidate the first time; later the one after the last
   * chosen endpoint (wrapping around; index 0 when it is no longer listed); never a
   * single-endpoint peer onto the endpoint it already has. Null when there is nothing to pick.
   */
  pickNewEndpoint(endpoints: readonly string[]): string | null {
    if (endpoints.length === 0) return null;
    if (this.lastUsedEndpoint === null) return endpoints[0];
    const idx = endpoints.indexOf(this.lastUsedEndpoint);
    if (endpoints.length === 1 && idx === 0 && this.endpoint === this.lastUsedEndpoint) return null;
    return endpoints[(idx + 1) % endpoints.length];
  }

  /** Talos `UpdateEndpoint`: records the choice; the state restarts as `unknown`. */
  updateEndpoint(endpoint: string, now: number): void {
    this.endpoint = endpoint;
    this.lastUsedEndpoint = endpoint;
    this.lastEndpointChange = now;
    this.state = "unknown";
  }

  /**
   * One manager pass for this peer (§4.2): take the snapshot (if the device has the peer),
   * compute the state, rotate the endpoint if needed, and say which endpoint to configure.
   * `wallNow`: see {@link updateFromDevice}.
   */
  reconcile(
    endpoints: readonly string[],
    snapshot: PeerSnapshot | null,
    now: number,
    wallNow: number = now,
  ): PeerDecision {
    const previousState = this.state;
    if (snapshot !== null) this.updateFromDevice(snapshot, now, wallNow);
    this.calculateState(now);
    let setEndpoint: string | null = null;
    let endpointChanged = false;
    const hadEndpoint = this.lastUsedEndpoint !== null;
    if (this.shouldChangeEndpoint()) {
      const next = this.pickNewEndpoint(endpoints);
      if (next !== null) {
        this.updateEndpoint(next, now);
        setEndpoint = next;
        endpointChanged = true;
      }
    }
    // Re-apply our endpoint when the device has none or still has ours; a roamed endpoint
    // (learned from the peer's authenticated packets) is left alone (§4.4).
    if (
      !endpointChanged &&
      this.lastUsedEndpoint !== null &&
      (this.endpoint === null || this.endpoint === this.lastUsedEndpoint)
    ) {
      setEndpoint = this.lastUsedEndpoint;
      this.endpoint = this.lastUsedEndpoint;
    }
    return {
      previousState,
      state: this.state,
      stateChanged: previousState !== this.state,
      setEndpoint,
      endpointChanged,
      rotated: endpointChanged && hadEndpoint,
    };
  }

  /**
   * When the state could next change or a probe is due without new input: the ends of the
   * connection-timeout and peer-down windows, the peer-down deadline of the last handshake, the
   * next probe and the timeout of the outstanding one, capped at `maxCheckIntervalMs` from `now`
   * so counter movements are seen in time. Always greater than `now`.
   */
  nextCheckAt(now: number): number {
    const t = this.timings;
    const deadlines: number[] = [];
    if (this.lastEndpointChange !== null) {
      // +1: the comparisons are strict, so the state flips just after the boundary.
      deadlines.push(this.lastEndpointChange + t.endpointConnectionTimeoutMs);
      deadlines.push(this.lastEndpointChange + t.peerDownIntervalMs + 1);
    }
    if (this.lastHandshakeTime !== null) {
      deadlines.push(this.lastHandshakeTime + t.peerDownIntervalMs);
    }
    deadlines.push(this.nextProbeAt());
    if (this.probeSentAt !== null) deadlines.push(this.probeSentAt + t.probeTimeoutMs);
    let next = Infinity;
    for (const d of deadlines) if (d > now && d < next) next = d;
    if (t.maxCheckIntervalMs > 0) next = Math.min(next, now + t.maxCheckIntervalMs);
    return next;
  }
}
