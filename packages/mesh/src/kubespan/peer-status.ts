/**
 * KubeSpan peer status: the `unknown` / `up` / `down` state machine and endpoint cycling of
 * Talos's peer status adapter (reference/kubespan.md §4.4), as pure code driven by the caller's
 * clock (`now`, ms since the epoch) and snapshots of the WireGuard peer. No timers: the caller
 * asks {@link PeerStatus.nextCheckAt} when to look again.
 */
import {
  EndpointConnectionTimeoutMs,
  MaxPeerCheckIntervalMs,
  PeerDownIntervalMs,
  RxSilenceTimeoutMs,
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
   * wirespan extension: an `up` peer whose receive counter and handshake time have not moved for
   * this long is `down`. 0 turns the rule off (pure Talos behaviour).
   */
  readonly rxSilenceTimeoutMs: number;
  /** Longest gap {@link PeerStatus.nextCheckAt} allows between checks; 0 = only exact deadlines. */
  readonly maxCheckIntervalMs: number;
}

export const DefaultPeerStatusTimings: PeerStatusTimings = {
  endpointConnectionTimeoutMs: EndpointConnectionTimeoutMs,
  peerDownIntervalMs: PeerDownIntervalMs,
  rxSilenceTimeoutMs: RxSilenceTimeoutMs,
  maxCheckIntervalMs: MaxPeerCheckIntervalMs,
};

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
}

/** The mutable status of one peer (Talos's `PeerStatusSpec` plus the receive-activity mark). */
export class PeerStatus {
  /** Endpoint as WireGuard reports it (may be a roamed one). */
  endpoint: string | null = null;
  state: PeerState = "unknown";
  receiveBytes = 0n;
  transmitBytes = 0n;
  /** Last handshake, ms since the epoch; null = never. */
  lastHandshakeTime: number | null = null;
  /** Last endpoint the local node chose for the peer. */
  lastUsedEndpoint: string | null = null;
  /** When the local node last chose an endpoint, ms; null = never. */
  lastEndpointChange: number | null = null;
  /** When the receive counter was last seen to move (or first observed), ms. */
  lastReceiveChange: number | null = null;

  constructor(
    public label: string,
    readonly timings: PeerStatusTimings = DefaultPeerStatusTimings,
  ) {}

  /** Copies the device's view of the peer (Talos `UpdateFromWireguard`). */
  updateFromDevice(snapshot: PeerSnapshot, now: number): void {
    this.endpoint = snapshot.endpoint;
    this.lastHandshakeTime =
      snapshot.lastHandshakeNs > 0n ? Number(snapshot.lastHandshakeNs / 1_000_000n) : null;
    if (this.lastReceiveChange === null || snapshot.rxBytes !== this.receiveBytes) {
      this.lastReceiveChange = now;
    }
    this.receiveBytes = snapshot.rxBytes;
    this.transmitBytes = snapshot.txBytes;
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
    if (state === "up" && this.silentFor(now) > t.rxSilenceTimeoutMs && t.rxSilenceTimeoutMs > 0) {
      state = "down";
    }
    // Without an endpoint of our own the local node relies on the peer dialling in (§4.4).
    if (state === "down" && this.lastUsedEndpoint === null) state = "unknown";
    this.state = state;
    return state;
  }

  /** How long neither the receive counter nor the handshake time moved. */
  private silentFor(now: number): number {
    const activity = Math.max(
      this.lastReceiveChange ?? -Infinity,
      this.lastHandshakeTime ?? -Infinity,
    );
    return activity === -Infinity ? Infinity : now - activity;
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
   */
  reconcile(
    endpoints: readonly string[],
    snapshot: PeerSnapshot | null,
    now: number,
  ): PeerDecision {
    const previousState = this.state;
    if (snapshot !== null) this.updateFromDevice(snapshot, now);
    this.calculateState(now);
    let setEndpoint: string | null = null;
    let endpointChanged = false;
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
    };
  }

  /**
   * When the state could next change without new input: the ends of the connection-timeout and
   * peer-down windows, the peer-down deadline of the last handshake, the receive-silence
   * deadline, capped at `maxCheckIntervalMs` from `now` so counter movements are seen in time.
   * Always greater than `now`.
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
    if (t.rxSilenceTimeoutMs > 0 && this.state === "up") {
      const activity = Math.max(
        this.lastReceiveChange ?? -Infinity,
        this.lastHandshakeTime ?? -Infinity,
      );
      if (activity !== -Infinity) deadlines.push(activity + t.rxSilenceTimeoutMs + 1);
    }
    let next = Infinity;
    for (const d of deadlines) if (d > now && d < next) next = d;
    if (t.maxCheckIntervalMs > 0) next = Math.min(next, now + t.maxCheckIntervalMs);
    return next;
  }
}
