/**
 * Engine.initiateHandshake: a handshake the runtime asks for (a mesh controller proving an
 * endpoint it just chose, reference/kubespan.md §4.4), sent at once to the current endpoint even
 * right after another initiation, and retransmitted like any other.
 */
import { describe, expect, it } from "vitest";
import type { Action } from "../src/actions.js";
import { MESSAGE_HANDSHAKE_INITIATION, REKEY_TIMEOUT } from "../src/constants.js";
import { ipv4, pair } from "./support/net.js";

describe("Engine.initiateHandshake", () => {
  it("sends an initiation to the new endpoint at once, within REKEY_TIMEOUT of the last one", () => {
    const { net, a, b } = pair();
    const real = b.endpoint;
    net.set(
      a,
      `public_key=${Buffer.from(b.publicKey).toString("hex")}\nendpoint=198.18.9.9:51820\n`,
    );
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10)); // initiation to the dead endpoint
    expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION)).toHaveLength(1);
    net.advance(1_000);
    net.set(
      a,
      `public_key=${Buffer.from(b.publicKey).toString("hex")}\nendpoint=${real.address}:${real.port}\n`,
    );
    const since = net.wire.length;
    const out: Action[] = [];
    expect(a.engine.initiateHandshake(b.publicKey, net.now, out)).toBe(true);
    net.apply(a, out);
    net.pump();
    const [init] = net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION, since);
    expect(init.to).toEqual(real);
    expect(a.events.some((e) => e.event.type === "handshake-completed")).toBe(true);
    expect(b.delivered).toHaveLength(1); // the staged packet followed the new session
  });

  it("retransmits a lost one every REKEY_TIMEOUT, and knows no unknown peer", () => {
    const { net, a, b } = pair();
    net.filter = () => false;
    const out: Action[] = [];
    a.engine.initiateHandshake(b.publicKey, net.now, out);
    net.apply(a, out);
    net.advance(REKEY_TIMEOUT + 400);
    expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION)).toHaveLength(2);
    expect(a.engine.initiateHandshake(new Uint8Array(32).fill(7), net.now, [])).toBe(false);
  });
});
