import { describe, expect, it } from "vitest";
import {
  DefaultPeerStatusTimings,
  type PeerSnapshot,
  PeerStatus,
  type PeerStatusTimings,
} from "../src/kubespan/peer-status.js";

const S = 1000;
const ns = (ms: number) => BigInt(ms) * 1_000_000n;
const T0 = 1_700_000_000_000; // arbitrary wall-clock origin, ms

function status(fields: Partial<PeerStatus> = {}, timings?: PeerStatusTimings): PeerStatus {
  return Object.assign(new PeerStatus("peer", timings), fields);
}

describe("state (reference §4.4 table)", () => {
  const talos = { ...DefaultPeerStatusTimings, probeAfterMs: 0 };
  const at = (
    sinceChange: number | null,
    sinceHandshake: number | null,
    lastUsed: string | null = "198.18.0.1:51820",
  ) =>
    status(
      {
        lastEndpointChange: sinceChange === null ? null : T0 - sinceChange,
        lastHandshakeTime: sinceHandshake === null ? null : T0 - sinceHandshake,
        lastUsedEndpoint: lastUsed,
      },
      talos,
    ).calculateState(T0);

  it("T > 275 s: up iff H < 275 s", () => {
    expect(at(276 * S, 274 * S)).toBe("up");
    expect(at(276 * S, 275 * S)).toBe("down");
    expect(at(null, 10 * S)).toBe("up");
    expect(at(null, null)).toBe("down");
  });

  it("T < 15 s: up iff a handshake happened after the change, else unknown", () => {
    expect(at(14 * S, 1 * S)).toBe("up");
    expect(at(14 * S, 14 * S)).toBe("unknown"); // same instant is not "after"
    expect(at(1 * S, 100 * S)).toBe("unknown");
    expect(at(1 * S, null)).toBe("unknown");
  });

  it("15 s ≤ T ≤ 275 s: up iff a handshake happened after the change, else down", () => {
    expect(at(15 * S, 14 * S)).toBe("up");
    expect(at(15 * S, 16 * S)).toBe("down");
    expect(at(275 * S, null)).toBe("down");
    expect(at(200 * S, 199 * S)).toBe("up");
  });

  it("down without an endpoint of our own is unknown (the peer may dial us)", () => {
    expect(at(null, null, null)).toBe("unknown");
    expect(at(100 * S, null, null)).toBe("unknown");
  });
});

describe("endpoint selection (reference §4.4)", () => {
  const eps = ["198.18.0.1:51820", "198.18.0.2:51820", "[fd00::3]:51820"];

  it("first time: the first candidate", () => {
    expect(status().pickNewEndpoint(eps)).toBe(eps[0]);
    expect(status().pickNewEndpoint([])).toBeNull();
  });

  it("later: the one after the last chosen, wrapping; index 0 when it vanished", () => {
    expect(status({ lastUsedEndpoint: eps[0] }).pickNewEndpoint(eps)).toBe(eps[1]);
    expect(status({ lastUsedEndpoint: eps[2] }).pickNewEndpoint(eps)).toBe(eps[0]);
    expect(status({ lastUsedEndpoint: "198.18.9.9:1" }).pickNewEndpoint(eps)).toBe(eps[0]);
  });

  it("a single endpoint is not rotated onto itself while WireGuard still has it", () => {
    const one = [eps[0]];
    expect(status({ lastUsedEndpoint: eps[0], endpoint: eps[0] }).pickNewEndpoint(one)).toBeNull();
    expect(status({ lastUsedEndpoint: eps[0], endpoint: null }).pickNewEndpoint(one)).toBe(eps[0]);
  });

  it("reconcile: sets the first endpoint, state restarts as unknown", () => {
    const s = status();
    const d = s.reconcile(eps, null, T0);
    expect(d).toEqual({
      previousState: "unknown",
      state: "unknown",
      stateChanged: false,
      setEndpoint: eps[0],
      endpointChanged: true,
      rotated: false,
    });
    expect(s.lastUsedEndpoint).toBe(eps[0]);
    expect(s.lastEndpointChange).toBe(T0);
  });

  it("reconcile: leaves a roamed endpoint alone while handshakes are fresh", () => {
    const s = status();
    s.reconcile(eps, null, T0);
    const roamed: PeerSnapshot = {
      endpoint: "198.18.77.7:40000",
      lastHandshakeNs: ns(T0 + 2 * S),
      rxBytes: 100n,
      txBytes: 100n,
    };
    const d = s.reconcile(eps, roamed, T0 + 3 * S);
    expect(d.state).toBe("up");
    expect(d.stateChanged).toBe(true);
    expect(d.setEndpoint).toBeNull();
    expect(s.endpoint).toBe("198.18.77.7:40000");
    // Much later, still handshaking on the roamed endpoint: still untouched.
    const later: PeerSnapshot = { ...roamed, lastHandshakeNs: ns(T0 + 400 * S), rxBytes: 900n };
    expect(s.reconcile(eps, later, T0 + 401 * S).setEndpoint).toBeNull();
  });

  it("reconcile: re-applies our endpoint when the device lost it", () => {
    const s = status();
    s.reconcile(eps, null, T0);
    const d = s.reconcile(
      eps,
      { endpoint: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 0n },
      T0 + 1 * S,
    );
    expect(d.setEndpoint).toBe(eps[0]);
    expect(d.endpointChanged).toBe(false);
  });
});

describe("nextCheckAt", () => {
  it("is the end of the connection window after a change, capped, and always in the future", () => {
    const s = status({}, { ...DefaultPeerStatusTimings, maxCheckIntervalMs: 0 });
    expect(s.nextCheckAt(T0)).toBe(Number.POSITIVE_INFINITY);
    s.reconcile(["198.18.0.1:1"], null, T0);
    expect(s.nextCheckAt(T0)).toBe(T0 + 15 * S);
    expect(s.nextCheckAt(T0 + 15 * S)).toBe(T0 + 275 * S + 1);
    const capped = status();
    capped.reconcile(["198.18.0.1:1"], null, T0);
    expect(capped.nextCheckAt(T0)).toBe(T0 + DefaultPeerStatusTimings.maxCheckIntervalMs);
    for (const now of [T0, T0 + 14_999, T0 + 15 * S, T0 + 10_000 * S]) {
      expect(capped.nextCheckAt(now)).toBeGreaterThan(now);
    }
  });
});

/**
 * A fake WireGuard peer on a fake clock: an endpoint is reachable or not; on a reachable one the
 * handshake completes `handshakeDelay` after the endpoint is set (retries every 5 s, whitepaper
 * §6.4) and the live peer then sends a keepalive every 25 s, and answers each probe 10 ms after
 * it is sent. The controller looks at the peer only at `nextCheckAt` — the scheduling the real
 * controller uses — and sends the probes peer-status asks for. (kubespan-probe.test.ts runs the
 * probe rule against real Engines instead.)
 */
class Sim {
  now = T0;
  endpoint: string | null = null;
  endpointSetAt = T0;
  handshakeAt: number | null = null;
  rx = 0n;
  alive = true;
  lostKeepalives = new Set<number>();
  lastRxAt: number | null = null;
  answerAt: number | null = null;
  probes = 0;
  readonly status: PeerStatus;
  readonly log: { t: number; state: string; endpoint: string | null }[] = [];

  constructor(
    readonly candidates: string[],
    readonly reachable: Set<string>,
    timings?: PeerStatusTimings,
    readonly handshakeDelay = 3 * S,
  ) {
    this.status = new PeerStatus("sim", timings);
  }

  /** Advances the fake peer to `t`. */
  private advance(t: number): void {
    const ok = this.alive && this.endpoint !== null && this.reachable.has(this.endpoint);
    if (ok && this.handshakeAt === null && t >= this.endpointSetAt + this.handshakeDelay) {
      this.handshakeAt = this.endpointSetAt + this.handshakeDelay;
      this.rx += 92n;
      this.lastRxAt = this.handshakeAt;
    }
    if (ok && this.answerAt !== null && t >= this.answerAt) {
      this.rx += 96n;
      this.lastRxAt = this.answerAt;
    }
    if (this.answerAt !== null && t >= this.answerAt) this.answerAt = null;
    if (ok && this.lastRxAt !== null) {
      while (this.lastRxAt + 25 * S <= t) {
        this.lastRxAt += 25 * S;
        if (!this.lostKeepalives.has(this.lastRxAt)) this.rx += 32n;
        // Re-handshake every 120 s (REKEY_AFTER_TIME), as a live session does.
        if (this.handshakeAt !== null && this.lastRxAt - this.handshakeAt >= 120 * S) {
          this.handshakeAt = this.lastRxAt;
        }
      }
    }
    this.now = t;
  }

  snapshot(): PeerSnapshot {
    return {
      endpoint: this.endpoint,
      lastHandshakeNs: this.handshakeAt === null ? 0n : ns(this.handshakeAt),
      rxBytes: this.rx,
      txBytes: 0n,
    };
  }

  /** Runs the controller loop until `until`. */
  run(until: number): void {
    let t = this.now;
    while (t <= until) {
      this.advance(t);
      const d = this.status.reconcile(this.candidates, this.snapshot(), t);
      if (d.setEndpoint !== null && d.setEndpoint !== this.endpoint) {
        this.endpoint = d.setEndpoint;
        this.endpointSetAt = t;
      }
      if (d.stateChanged || d.endpointChanged) {
        this.log.push({ t: t - T0, state: d.state, endpoint: this.endpoint });
      }
      if (this.status.probeDue(t)) {
        this.status.recordProbe(t);
        this.probes++;
        this.answerAt = t + 10;
      }
      t = Math.min(this.status.nextCheckAt(t), this.answerAt ?? Infinity);
    }
  }

  firstTime(state: string): number | undefined {
    return this.log.find((e) => e.state === state)?.t;
  }
}

describe("scenarios on a fake clock", () => {
  const a = "198.18.1.1:51820";
  const b = "198.18.2.1:51820";
  const c = "198.18.3.1:51820";

  it("a reachable peer is up within 15 s", () => {
    const sim = new Sim([a], new Set([a]));
    sim.run(T0 + 20 * S);
    expect(sim.firstTime("up")).toBeLessThanOrEqual(15 * S);
  });

  it("an unreachable first endpoint: the second is tried and up within 45 s", () => {
    const sim = new Sim([a, b, c], new Set([b]));
    sim.run(T0 + 60 * S);
    const up = sim.firstTime("up");
    expect(up).toBeDefined();
    expect(up!).toBeLessThanOrEqual(45 * S);
    expect(sim.status.lastUsedEndpoint).toBe(b);
    expect(sim.status.state).toBe("up");
  });

  it("cycles through all candidates, wrapping, while none answers", () => {
    const sim = new Sim([a, b, c], new Set());
    sim.run(T0 + 100 * S);
    const tried = sim.log.filter((e) => e.state === "unknown").map((e) => e.endpoint);
    expect(tried.slice(0, 5)).toEqual([a, b, c, a, b]);
    const times = sim.log.filter((e) => e.state === "unknown").map((e) => e.t);
    // Each candidate gets exactly the 15 s connection window.
    expect(times[1] - times[0]).toBe(15 * S);
  });

  it("a killed peer is down within 60 s; a live idle peer stays up for 10 minutes", () => {
    const sim = new Sim([a], new Set([a]));
    sim.lostKeepalives.add(T0 + 3 * S + 25 * S * 7); // one lost keepalive is tolerated
    sim.run(T0 + 600 * S);
    expect(sim.log.filter((e) => e.state === "down")).toEqual([]);
    expect(sim.status.state).toBe("up");
    const killedAt = sim.now;
    sim.alive = false;
    sim.run(killedAt + 120 * S);
    const down = sim.log.find((e) => e.state === "down" && e.t > killedAt - T0);
    expect(down).toBeDefined();
    expect(down!.t - (killedAt - T0)).toBeLessThanOrEqual(60 * S);
  });

  it("with the probe extension off (pure Talos), a killed peer goes down after 275 s", () => {
    const timings = { ...DefaultPeerStatusTimings, probeAfterMs: 0 };
    const sim = new Sim([a], new Set([a]), timings);
    sim.run(T0 + 300 * S);
    const killedAt = sim.now;
    const lastHandshake = sim.handshakeAt!;
    sim.alive = false;
    sim.run(killedAt + 400 * S);
    const down = sim.log.find((e) => e.state === "down");
    expect(down).toBeDefined();
    expect(down!.t + T0 - lastHandshake).toBeGreaterThanOrEqual(275 * S);
    expect(down!.t + T0 - lastHandshake).toBeLessThanOrEqual(275 * S + 2 * S);
  });

  it("a peer that comes back is up again on the rotated endpoint", () => {
    const sim = new Sim([a, b], new Set([a, b]));
    sim.run(T0 + 60 * S);
    sim.alive = false;
    sim.run(sim.now + 120 * S);
    sim.alive = true;
    sim.handshakeAt = null;
    sim.endpointSetAt = sim.now;
    sim.run(sim.now + 60 * S);
    expect(sim.status.state).toBe("up");
  });
});
