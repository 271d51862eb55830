/**
 * Endpoint cycling (reference/kubespan.md §4.4) against real Engines on a fake clock
 * (support/engine-pair.ts): a new endpoint is judged by a handshake within
 * EndpointConnectionTimeout of the change, so the controller starts that handshake itself
 * (peer-reconciler.ts) instead of waiting for whichever WireGuard timer fires next — the
 * handshake retransmit (every REKEY_TIMEOUT + jitter, still aimed at the old endpoint's cycle) or
 * the new-handshake timer (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter = the real connection
 * timeout, 15 s: a race).
 */
import { describe, expect, it } from "vitest";
import { DefaultPeerStatusTimings } from "../src/kubespan/peer-status.js";
import { EnginePair, FastTimings as fast, S, T0 } from "./support/engine-pair.js";

function firstUp(m: EnginePair, node: string, after = 0): number | undefined {
  return m.log.find((e) => e.node === node && e.state === "up" && e.t >= after)?.t;
}

describe.each([
  ["real timings", DefaultPeerStatusTimings, 25],
  ["shortened timings", fast, 1],
])("endpoint rotation, %s", (_name, timings, keepaliveSeconds) => {
  it("reaches a peer whose first endpoint is dead at the first rotation", () => {
    const m = new EnginePair({ timings, keepaliveSeconds, deadFirst: true });
    // b only answers (as n4 in mesh-inprocess.test.ts): a must find b's working endpoint itself.
    const b = m.nodes[1];
    m.filter = (d) => !(d.from === b.endpoint && d.data[0] === 1);
    m.run(T0 + 120 * S);
    const up = firstUp(m, "a");
    expect(up).toBeDefined();
    // The dead endpoint gets its connection timeout; the second one answers at once.
    expect(up).toBeGreaterThanOrEqual(timings.endpointConnectionTimeoutMs);
    expect(up).toBeLessThanOrEqual(timings.endpointConnectionTimeoutMs + 100);
    expect(m.nodes[0].status.lastUsedEndpoint).toBe(m.nodes[1].advertised[1]);
    expect(m.statesOf("a", up)).not.toContain("down");
  });

  it("brings a live peer wrongly declared down back at its next endpoint, and keeps it up", () => {
    // b answers on two addresses; its replies are lost for a while (one-way loss), so a's probe
    // goes unanswered and a declares b down and rotates — while b is alive and the session valid.
    const m = new EnginePair({ timings, keepaliveSeconds, bAliases: 1 });
    const [a, b] = m.nodes;
    m.run(T0 + 200 * S);
    expect(a.status.state).toBe("up");
    const lossFrom = m.now;
    const lossFor = timings.probeAfterMs + timings.probeTimeoutMs + 2 * S;
    m.filter = (d) => !(d.from === b.endpoint && m.now < lossFrom + lossFor);
    m.run(lossFrom + lossFor);
    // a declared b down and rotated (down, then unknown on the new endpoint, in one pass).
    expect(a.status.lastEndpointChange ?? 0).toBeGreaterThan(lossFrom);
    const healed = m.now - T0;
    m.run(m.now + 300 * S);
    const up = firstUp(m, "a", healed);
    expect(up, JSON.stringify(m.log.filter((e) => e.t >= lossFrom - T0))).toBeDefined();
    // Up within one handshake retransmit of the heal (an initiation is running, aimed at the
    // endpoint being tried), and never down again. Before the controller started that
    // handshake, the shortened timings took 41 s: the valid session never needed one until
    // its rekey, so every new endpoint timed out.
    expect((up ?? Infinity) - healed).toBeLessThanOrEqual(5_000 + 400);
    expect(a.forcedHandshakes).toBeGreaterThan(0);
    expect(m.statesOf("a", up)).not.toContain("down");
    expect(a.status.state).toBe("up");
  });
});
