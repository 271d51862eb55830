/**
 * Path choice per peer (nat/path-state.ts), on a fake clock: relay while no direct path has
 * answered; direct as soon as a pong arrives; back to the relay when the direct path stops
 * answering for the trust window; the chosen direct path is kept while trusted (no flapping);
 * probing keeps going while relayed; time is accounted per path.
 */
import { parseEndpoint } from "@wirespan/noise";
import { describe, expect, it } from "vitest";
import type { ChosenPath } from "../src/bind/path-bind.js";
import { HeartbeatMs, PathState, PingIntervalMs, TrustMs } from "../src/nat/path-state.js";

const direct = (t: string): ChosenPath => ({ kind: "direct", endpoint: parseEndpoint(t) });
const relay = "wss://relay.test/wirespan/relay";

describe("path state", () => {
  it("relay first, direct on a pong, relay again when the pongs stop, direct again after", () => {
    const s = new PathState(0);
    s.setAdvertised(["198.18.21.2:51820", "198.18.10.101:51820"], 0);
    s.homeRelay = relay;
    expect(s.duePings(0).sort()).toEqual(["198.18.10.101:51820", "198.18.21.2:51820"]);
    expect(s.duePings(100)).toEqual([]); // rate-limited
    expect(s.choose(100, direct)).toBe(true);
    expect(s.chosen).toEqual({ kind: "relay", url: relay });
    s.recordPong("198.18.10.101:51820", 3, 150);
    expect(s.choose(150, direct)).toBe(true);
    expect(s.chosenText).toBe("198.18.10.101:51820");
    // Only the chosen path is heartbeat-pinged now.
    expect(s.duePings(150 + HeartbeatMs)).toEqual(["198.18.10.101:51820"]);
    // A faster candidate answering does not move a trusted path.
    s.recordPong("198.18.21.2:51820", 1, 2_000);
    expect(s.choose(2_000, direct)).toBe(false);
    // No pong for the trust window: back to the relay (the LAN pong is stale too by then).
    const late = 2_000 + TrustMs + 1;
    expect(s.choose(late, direct)).toBe(true);
    expect(s.chosen?.kind).toBe("relay");
    // Still probing every candidate while relayed.
    expect(s.duePings(late + PingIntervalMs).length).toBe(2);
    s.recordPong("198.18.21.2:51820", 1, late + PingIntervalMs + 5);
    expect(s.choose(late + PingIntervalMs + 5, direct)).toBe(true);
    expect(s.chosenText).toBe("198.18.21.2:51820");
    const v = s.view(late + PingIntervalMs + 1_005);
    expect(v.path).toBe("direct");
    expect(v.relayedMs).toBeGreaterThan(0);
    expect(v.directMs).toBeGreaterThan(0);
  });

  it("without a relay and without a pong there is no path (plain WireGuard cycling applies)", () => {
    const s = new PathState(0);
    s.setAdvertised(["198.18.21.2:51820"], 0);
    expect(s.choose(0, direct)).toBe(false);
    expect(s.chosen).toBeNull();
    expect(s.view(10).path).toBe("none");
  });

  it("learns a peer-reflexive candidate and pings it at once", () => {
    const s = new PathState(0);
    s.setAdvertised(["198.18.21.2:51820"], 0);
    s.duePings(0);
    expect(s.add("198.18.10.103:40000", 10)).toBe(true);
    expect(s.add("198.18.10.103:40000", 10)).toBe(false);
    expect(s.duePings(20)).toEqual(["198.18.10.103:40000"]);
  });
});
