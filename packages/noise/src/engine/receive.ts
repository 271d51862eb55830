/**
 * The Engine's receive path (wireguard-go `receive.go`): dispatch on message type, the
 * handshake gate under load (mac1, then cookie/mac2 and the per-source limit), cookie replies,
 * and transport data through decryption, replay, roaming and cryptokey routing to the tunnel.
 */
import type { Action } from "../actions.js";
import { parseIp } from "../cidr.js";
import {
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_TRANSPORT_DATA,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_MIN_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  UNDER_LOAD_AFTER_TIME,
} from "../constants.js";
import { cookieSource } from "../cookie.js";
import type { Endpoint } from "../endpoint.js";
import {
  type CookieReply,
  decodeMessage,
  type Initiation,
  type Response,
  readU32,
  readU64,
} from "../messages.js";
import { addressLength, innerPacketLength, sourceOffset } from "../packet.js";
import type { EngineContext } from "./context.js";
import { handshakeComplete, receiveInitiation, receiveResponse } from "./handshake.js";
import { keepKeyFreshReceiving, sendStagedPackets } from "./send.js";

/** Datagram received from the UDP socket. `now` is monotonic ms. Never throws. */
export function receiveDatagram(
  ctx: EngineContext,
  data: Uint8Array,
  from: Endpoint,
  now: number,
  out: Action[],
): void {
  try {
    if (data.length >= 4 && readU32(data, 0) === MESSAGE_TRANSPORT_DATA) {
      receiveTransport(ctx, data, from, now, out);
      return;
    }
    const d = decodeMessage(data);
    if (!d.ok) {
      ctx.drop(d.reason);
      return;
    }
    const m = d.message;
    if (m.type === MESSAGE_HANDSHAKE_COOKIE) receiveCookieReply(ctx, m, now);
    else if (m.type === MESSAGE_HANDSHAKE_INITIATION || m.type === MESSAGE_HANDSHAKE_RESPONSE) {
      receiveHandshake(ctx, data, m, from, now, out);
    }
  } catch {
    // Defensive: no input may throw out of the engine.
    ctx.drop("internal-error");
  }
}

/**
 * The runtime's receive queue is deeper than it can serve (its classifier shed handshake
 * messages): under load for UNDER_LOAD_AFTER_TIME, as wireguard-go defines it by queue depth.
 */
export function reportLoad(ctx: EngineContext, now: number): void {
  ctx.load.until = Math.max(ctx.load.until, now + UNDER_LOAD_AFTER_TIME);
}

/**
 * Counts a handshake message; more than `underLoadThreshold` in the current second puts the
 * device under load for UNDER_LOAD_AFTER_TIME (wireguard-go: UnderLoadAfterTime = 1 s).
 */
function noteHandshake(ctx: EngineContext, now: number): void {
  const load = ctx.load;
  if (now - load.windowStart >= 1000) {
    load.windowStart = now;
    load.count = 0;
  }
  load.count++;
  if (load.count > load.threshold) load.until = now + UNDER_LOAD_AFTER_TIME;
}

function receiveHandshake(
  ctx: EngineContext,
  data: Uint8Array,
  m: Initiation | Response,
  from: Endpoint,
  now: number,
  out: Action[],
): void {
  noteHandshake(ctx, now);
  if (!ctx.cookieChecker.checkMac1(data)) {
    ctx.drop("bad-mac1");
    return;
  }
  if (now < ctx.load.until) {
    let ip: Uint8Array;
    try {
      ip = from.ip ?? parseIp(from.address);
    } catch {
      ctx.drop("bad-source");
      return;
    }
    // The per-source limit comes first, so cookie replies are limited too (kernel receive.c).
    if (!ctx.rateLimiter.allow(ip, now)) {
      ctx.drop("rate-limited");
      return;
    }
    const source = cookieSource(ip, from.port);
    if (!ctx.cookieChecker.checkMac2(data, source, now)) {
      const reply = ctx.cookieChecker.createReply(data, m.sender, source, now, ctx.random);
      if (reply !== null) out.push({ kind: "send", to: from, data: reply });
      ctx.drop("under-load-cookie-sent");
      return;
    }
  }
  if (m.type === MESSAGE_HANDSHAKE_INITIATION) receiveInitiation(ctx, data, m, from, now, out);
  else receiveResponse(ctx, data, m, from, now, out);
}

function receiveCookieReply(ctx: EngineContext, m: CookieReply, now: number): void {
  const entry = ctx.indices.get(m.receiver);
  if (entry === undefined || entry.keypair !== null) {
    ctx.drop("cookie-unknown-index");
    return;
  }
  if (!entry.peer.cookies.consumeReply(m.nonce, m.encryptedCookie, now)) {
    ctx.drop("cookie-invalid");
    return;
  }
}

/** Whitepaper §5.4.6 receive path (wireguard-go RoutineReceiveIncoming + SequentialReceiver). */
function receiveTransport(
  ctx: EngineContext,
  data: Uint8Array,
  from: Endpoint,
  now: number,
  out: Action[],
): void {
  if (data.length < MESSAGE_TRANSPORT_MIN_SIZE) {
    ctx.drop("bad-length");
    return;
  }
  const entry = ctx.indices.get(readU32(data, 4));
  const kp = entry?.keypair;
  if (entry === undefined || kp == null) {
    ctx.drop("transport-unknown-index");
    return;
  }
  if (now - kp.created > REJECT_AFTER_TIME) {
    ctx.drop("transport-keypair-expired");
    return;
  }
  const counter = readU64(data, 8);
  if (counter >= REJECT_AFTER_MESSAGES) {
    ctx.drop("transport-counter-rejected");
    return;
  }
  const plaintext = ctx.slab.alloc(data.length - MESSAGE_TRANSPORT_MIN_SIZE);
  const n = ctx.c.open(
    kp.recvKey,
    counter,
    data.subarray(MESSAGE_TRANSPORT_HEADER_SIZE),
    null,
    plaintext,
    0,
  );
  if (n < 0) {
    ctx.drop("transport-decrypt-failed");
    return;
  }
  if (!kp.replay.check(counter, REJECT_AFTER_MESSAGES)) {
    ctx.drop("transport-replay");
    return;
  }

  const peer = entry.peer;
  const timers = peer.timers;
  ctx.setEndpointFromPacket(peer, from, out);
  if (peer.keypairs.receivedWith(kp)) {
    handshakeComplete(ctx, peer, "responder", out);
    sendStagedPackets(ctx, peer, now, out);
  }
  keepKeyFreshReceiving(ctx, peer, now, out);
  timers.timersAnyAuthenticatedPacketTraversal(now);
  timers.timersAnyAuthenticatedPacketReceived();
  peer.rxBytes += data.length;
  if (n === 0) return; // keepalive: authenticated, never delivered
  timers.timersDataReceived(now);

  const length = innerPacketLength(plaintext, n);
  if (length < 0) {
    ctx.drop("inner-invalid");
    return;
  }
  const packet = length === n ? plaintext : plaintext.subarray(0, length);
  // Cryptokey routing: the inner source must route back to the sending peer (§4).
  if (ctx.allowedIps.lookup(packet, sourceOffset(packet), addressLength(packet)) !== peer) {
    ctx.drop("inner-source-not-allowed");
    return;
  }
  out.push({ kind: "deliver", data: packet });
}
