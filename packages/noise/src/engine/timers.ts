/**
 * The Engine's time input (wireguard-go `timers.go`): run each peer's expired timers from
 * `tick(now)` and report the earliest armed deadline (reference §1.2). The per-peer deadlines
 * and their hooks are in ../timers.ts, their order over all peers in deadlines.ts.
 */
import type { Action } from "../actions.js";
import { KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, ZERO_KEY_MATERIAL_TIME } from "../constants.js";
import type { Peer } from "../peer.js";
import type { EngineContext } from "./context.js";
import { resetHandshake, sendHandshakeInitiation } from "./handshake.js";
import { sendKeepalive } from "./send.js";

/** Time passed: run the timers that are due (reference §1.2). */
export function tick(ctx: EngineContext, now: number, out: Action[]): void {
  // Only the peers with a deadline due (engine/deadlines.ts), not every peer.
  for (const peer of ctx.deadlines.due(now)) {
    if (peer.removed) continue;
    const t = peer.timers;
    if (t.retransmitHandshake !== null && t.retransmitHandshake <= now) {
      t.retransmitHandshake = null;
      expiredRetransmitHandshake(ctx, peer, now, out);
    }
    if (t.sendKeepalive !== null && t.sendKeepalive <= now) {
      t.sendKeepalive = null;
      sendKeepalive(ctx, peer, now, out);
      if (t.needAnotherKeepalive) {
        t.needAnotherKeepalive = false;
        t.sendKeepalive = now + KEEPALIVE_TIMEOUT;
      }
    }
    if (t.newHandshake !== null && t.newHandshake <= now) {
      t.newHandshake = null;
      sendHandshakeInitiation(ctx, peer, false, now, out);
    }
    if (t.zeroKeyMaterial !== null && t.zeroKeyMaterial <= now) {
      t.zeroKeyMaterial = null;
      peer.keypairs.clear();
      resetHandshake(ctx, peer);
      peer.staged = [];
      ctx.emit(out, peer, { type: "keys-zeroed" });
    }
    if (t.persistentKeepalive !== null && t.persistentKeepalive <= now) {
      t.persistentKeepalive = null;
      if (t.persistentKeepaliveInterval > 0) sendKeepalive(ctx, peer, now, out);
    }
  }
  ctx.rateLimiter.gc(now);
}

function expiredRetransmitHandshake(
  ctx: EngineContext,
  peer: Peer,
  now: number,
  out: Action[],
): void {
  const t = peer.timers;
  if (t.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
    // Gave up after MAX_TIMER_HANDSHAKES + 2 initiations: drop what waited for the session.
    t.sendKeepalive = null;
    peer.staged = [];
    if (t.zeroKeyMaterial === null) t.zeroKeyMaterial = now + ZERO_KEY_MATERIAL_TIME;
    ctx.emit(out, peer, { type: "handshake-gave-up" });
    return;
  }
  t.handshakeAttempts++;
  sendHandshakeInitiation(ctx, peer, true, now, out);
}

/** Earliest ms at which tick() has work, or null when nothing is armed. */
export function nextDeadline(ctx: EngineContext): number | null {
  return ctx.deadlines.next();
}
