/**
 * One peer's path choice (reference/nat-relay.md §3.2, §3.4; Tailscale magicsock's rules in
 * small), pure and clock-driven: which candidates to ping when, which path to use.
 *
 * - Candidates: the peer's advertised endpoints (LAN, STUN-reflexive, …) plus peer-reflexive
 *   ones (sources its pings came from — how a peer behind a symmetric NAT becomes reachable
 *   from an easy one, §1.2).
 * - While no direct path is trusted, every candidate is pinged every {@link PingIntervalMs}
 *   (both sides do, so both NATs open: simultaneous open), later every
 *   {@link SlowPingIntervalMs}: the node keeps probing and moves back to direct as soon as one
 *   answers. A pong makes its candidate trusted for {@link TrustMs} (Tailscale's 6.5 s); the
 *   chosen direct path is heartbeat-pinged every {@link HeartbeatMs} to stay trusted.
 * - Choice: the current direct path while trusted (no flapping), else the trusted candidate with
 *   the lowest RTT, else the peer's home relay, else none (plain WireGuard endpoint cycling).
 */
import type { ChosenPath } from "../bind/path-bind.js";

export const PingIntervalMs = 2_000;
export const SlowPingIntervalMs = 5_000;
/** How long candidates are pinged at the fast rate after they change. */
export const FastPingPeriodMs = 30_000;
export const HeartbeatMs = 3_000;
export const TrustMs = 6_500;

export type PathKind = "direct" | "relayed" | "none";

export interface PathView {
  readonly path: PathKind;
  /** The direct endpoint or the relay URL. */
  readonly via: string | null;
  /** When the current path was chosen, ms. */
  readonly since: number | null;
  /** Total time spent direct and relayed, ms. */
  readonly directMs: number;
  readonly relayedMs: number;
  /** Smoothed round-trip time of the direct path, ms. */
  readonly rttMs: number | null;
}

interface Candidate {
  lastPingAt: number;
  lastPongAt: number;
  rttMs: number;
}

export class PathState {
  private readonly candidates = new Map<string, Candidate>();
  private advertised: readonly string[] = [];
  private candidatesChangedAt: number;
  homeRelay: string | null = null;
  chosen: ChosenPath | null = null;
  chosenText: string | null = null;
  private since: number | null = null;
  private directMs = 0;
  private relayedMs = 0;

  constructor(now: number) {
    this.candidatesChangedAt = now;
  }

  /** The advertised endpoints; peer-reflexive ones learned from pings are kept. */
  setAdvertised(endpoints: readonly string[], now: number): void {
    if (endpoints.join(",") === this.advertised.join(",")) return;
    this.advertised = endpoints;
    for (const e of endpoints) this.add(e, now);
  }

  /** A candidate learned from where the peer's ping came from. */
  add(endpoint: string, now: number): boolean {
    if (this.candidates.has(endpoint)) return false;
    this.candidates.set(endpoint, { lastPingAt: -Infinity, lastPongAt: -Infinity, rttMs: 0 });
    this.candidatesChangedAt = now;
    return true;
  }

  endpoints(): string[] {
    return [...this.candidates.keys()];
  }

  /** Candidates to ping now (each is recorded as pinged). */
  duePings(now: number): string[] {
    const out: string[] = [];
    const direct = this.chosen?.kind === "direct" ? this.chosenText : null;
    const interval =
      now - this.candidatesChangedAt < FastPingPeriodMs ? PingIntervalMs : SlowPingIntervalMs;
    for (const [ep, c] of this.candidates) {
      const every = direct === null ? interval : ep === direct ? HeartbeatMs : Infinity;
      if (now - c.lastPingAt >= every) {
        c.lastPingAt = now;
        out.push(ep);
      }
    }
    return out;
  }

  /** Forces the next {@link duePings} to ping `endpoint` (the peer just pinged us from it). */
  pingSoon(endpoint: string): void {
    const c = this.candidates.get(endpoint);
    if (c) c.lastPingAt = -Infinity;
  }

  recordPong(endpoint: string, rttMs: number, now: number): void {
    const c = this.candidates.get(endpoint);
    if (!c) return;
    c.lastPongAt = now;
    c.rttMs = c.rttMs === 0 ? rttMs : c.rttMs * 0.75 + rttMs * 0.25;
  }

  /** Re-evaluates the choice; true when it changed. */
  choose(now: number, toEndpoint: (text: string) => ChosenPath | null): boolean {
    const trusted = (ep: string) =>
      now - (this.candidates.get(ep)?.lastPongAt ?? -Infinity) < TrustMs;
    let next: string | null = null;
    let path: ChosenPath | null = null;
    if (this.chosen?.kind === "direct" && this.chosenText && trusted(this.chosenText)) {
      next = this.chosenText;
      path = this.chosen;
    } else {
      let best = Infinity;
      for (const [ep, c] of this.candidates) {
        if (trusted(ep) && c.rttMs < best) {
          const p = toEndpoint(ep);
          if (p === null) continue;
          best = c.rttMs;
          next = ep;
          path = p;
        }
      }
      if (path === null && this.homeRelay !== null) {
        next = this.homeRelay;
        path = { kind: "relay", url: this.homeRelay };
      }
    }
    this.account(now);
    if (next === this.chosenText && path?.kind === this.chosen?.kind) return false;
    this.chosen = path;
    this.chosenText = next;
    this.since = now;
    return true;
  }

  private account(now: number): void {
    if (this.since === null) return;
    const last = this.lastAccounted ?? this.since;
    const d = Math.max(0, now - last);
    if (this.chosen?.kind === "direct") this.directMs += d;
    else if (this.chosen?.kind === "relay") this.relayedMs += d;
    this.lastAccounted = now;
  }
  private lastAccounted: number | null = null;

  view(now: number): PathView {
    this.account(now);
    const kind: PathKind =
      this.chosen?.kind === "direct"
        ? "direct"
        : this.chosen?.kind === "relay"
          ? "relayed"
          : "none";
    const rtt =
      this.chosen?.kind === "direct" && this.chosenText
        ? this.candidates.get(this.chosenText)?.rttMs
        : undefined;
    return {
      path: kind,
      via: this.chosenText,
      since: this.since,
      directMs: this.directMs,
      relayedMs: this.relayedMs,
      rttMs: rtt === undefined ? null : Math.round(rtt * 100) / 100,
    };
  }
}
