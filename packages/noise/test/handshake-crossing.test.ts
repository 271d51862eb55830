/**
 * Two peers that initiate at the same moment: each consumes the other's initiation, which replaces
 * its own pending one, so both responses are refused (whitepaper §5.4.2/§5.4.3: one handshake
 * state per peer). Each side's retransmit then falls within REKEY_TIMEOUT of the response it sent
 * — wireguard-go and the kernel drop such a retry and arm nothing, leaving the pair without a
 * session until data or a persistent keepalive asks again (seen in the NAT lab: both nodes
 * silent until the 25 s keepalive). The retry is postponed to the end of the limit instead.
 */
import { expect, it } from "vitest";
import type { Action } from "../src/actions.js";
import { MESSAGE_HANDSHAKE_INITIATION, REKEY_TIMEOUT } from "../src/constants.js";
import { ipv4, pair } from "./support/net.js";

it("crossing initiations end in a session within two REKEY_TIMEOUTs, not at the next data", () => {
  const { net, a, b } = pair({ bKnowsA: true });
  const outA: Action[] = [];
  const outB: Action[] = [];
  // Both have data for the other at the same moment: both initiate.
  a.engine.handleOutbound(ipv4("198.19.0.1", "198.19.0.2", 10), net.now, outA);
  b.engine.handleOutbound(ipv4("198.19.0.2", "198.19.0.1", 10), net.now, outB);
  net.apply(a, outA);
  net.apply(b, outB);
  const start = net.now;
  // The initiations cross in flight; the responses leave a second later (a slow path).
  net.now += 1_000;
  net.pump();
  expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION)).toHaveLength(1);
  expect(net.sentBy(b, MESSAGE_HANDSHAKE_INITIATION)).toHaveLength(1);
  expect(a.events.some((e) => e.event.type === "handshake-completed")).toBe(false);

  net.advance(2 * REKEY_TIMEOUT + 1_000);
  const done = [...a.events, ...b.events].find((e) => e.event.type === "handshake-completed");
  expect(done, "no session before the next data packet").toBeDefined();
  expect((done?.at ?? Number.POSITIVE_INFINITY) - start).toBeLessThan(2 * REKEY_TIMEOUT + 1_000);
  expect(a.delivered.length + b.delivered.length).toBeGreaterThan(0); // staged data followed
});
