import { describe, expect, it } from "vitest";
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  NEW_HANDSHAKE_TIMEOUT,
  REJECT_AFTER_MESSAGES,
  REKEY_ON_RECEIVE_AFTER_TIME,
  REKEY_TIMEOUT,
  ZERO_KEY_MATERIAL_TIME,
} from "../src/constants.js";
import { PeerTimers } from "../src/timers.js";

describe("constants (whitepaper §6.1, reference §1.2)", () => {
  it("have the kernel's values", () => {
    expect(REJECT_AFTER_MESSAGES).toBe(18446744073709543423n);
    expect(MAX_TIMER_HANDSHAKES).toBe(18);
    expect(REKEY_ON_RECEIVE_AFTER_TIME).toBe(165_000);
    expect(NEW_HANDSHAKE_TIMEOUT).toBe(15_000);
    expect(ZERO_KEY_MATERIAL_TIME).toBe(540_000);
  });
});

describe("PeerTimers hooks (kernel timers.c semantics)", () => {
  it("arm and disarm as the kernel hooks do", () => {
    const t = new PeerTimers(() => 100);
    t.timersDataSent(0);
    expect(t.newHandshake).toBe(15_100);
    t.timersDataSent(5_000); // already pending: not pushed back
    expect(t.newHandshake).toBe(15_100);
    t.timersAnyAuthenticatedPacketReceived();
    expect(t.newHandshake).toBeNull();

    t.timersDataReceived(0);
    expect(t.sendKeepalive).toBe(KEEPALIVE_TIMEOUT);
    t.timersDataReceived(1);
    expect(t.needAnotherKeepalive).toBe(true);
    t.timersAnyAuthenticatedPacketSent();
    expect(t.sendKeepalive).toBeNull();

    t.timersHandshakeInitiated(10);
    expect(t.retransmitHandshake).toBe(10 + REKEY_TIMEOUT + 100);
    t.handshakeAttempts = 3;
    t.sentLastMinuteHandshake = true;
    t.timersHandshakeComplete();
    expect([t.retransmitHandshake, t.handshakeAttempts, t.sentLastMinuteHandshake]).toEqual([
      null,
      0,
      false,
    ]);

    t.timersSessionDerived(7);
    expect(t.zeroKeyMaterial).toBe(7 + ZERO_KEY_MATERIAL_TIME);

    t.timersAnyAuthenticatedPacketTraversal(0);
    expect(t.persistentKeepalive).toBeNull();
    t.persistentKeepaliveInterval = 25;
    t.timersAnyAuthenticatedPacketTraversal(3);
    expect(t.persistentKeepalive).toBe(25_003);
    expect(t.earliest()).toBe(25_003);
    t.stopAll();
    expect(t.earliest()).toBeNull();
  });
});
