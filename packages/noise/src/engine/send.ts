/**
 * The Engine's send path (wireguard-go `send.go`): route a tunnel packet by destination, seal
 * it with the current keypair or stage it and start a handshake, keepalives, and the rekey
 * checks that follow sending and receiving (whitepaper §5.4.6, §6.2).
 */
import type { Action } from "../actions.js";
import {
  MAX_STAGED_PACKETS,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_MIN_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ON_RECEIVE_AFTER_TIME,
} from "../constants.js";
import type { Keypair } from "../keypair.js";
import { writeTransportHeader } from "../messages.js";
import { destinationOffset, innerPacketLength, paddingSize } from "../packet.js";
import type { Peer } from "../peer.js";
import type { EngineContext } from "./context.js";
import { sendHandshakeInitiation } from "./handshake.js";

const EMPTY = new Uint8Array(0);

/** IP packet read from the tunnel: route by destination, seal or stage + initiate. Never throws. */
export function sendOutbound(
  ctx: EngineContext,
  packet: Uint8Array,
  now: number,
  out: Action[],
): void {
  try {
    const off = destinationOffset(packet);
    if (off < 0) {
      ctx.drop("outbound-not-ip");
      return;
    }
    // A header that claims more bytes than the packet carries would make the receiver take our
    // zero padding (§5.4.6) for data: it would deliver bytes this side never read from the tunnel.
    if (innerPacketLength(packet, packet.length) < 0) {
      ctx.drop("outbound-bad-length");
      return;
    }
    const peer = ctx.allowedIps.lookup(packet, off, off === 16 ? 4 : 16);
    if (peer === undefined) {
      ctx.drop("outbound-no-route");
      return;
    }
    if (peer.staged.length === 0) {
      const kp = peer.keypairs.current;
      if (kp !== null && canSend(kp, now)) {
        seal(ctx, peer, kp, packet, out);
        afterSend(ctx, peer, true, now, out);
        return;
      }
    }
    stage(ctx, peer, packet.slice());
    sendStagedPackets(ctx, peer, now, out);
  } catch {
    ctx.drop("internal-error");
  }
}

function canSend(kp: Keypair, now: number): boolean {
  return kp.sendCounter < REJECT_AFTER_MESSAGES && now - kp.created < REJECT_AFTER_TIME;
}

function stage(ctx: EngineContext, peer: Peer, packet: Uint8Array): void {
  if (peer.staged.length >= MAX_STAGED_PACKETS) {
    peer.staged.shift();
    ctx.drop("staged-overflow");
  }
  peer.staged.push(packet);
}

/** Seals one packet with the next counter (whitepaper §5.4.6) and emits it. */
function seal(
  ctx: EngineContext,
  peer: Peer,
  kp: Keypair,
  packet: Uint8Array,
  out: Action[],
): void {
  const len = packet.length;
  const padded = len + paddingSize(len, ctx.mtu);
  const counter = kp.sendCounter;
  kp.sendCounter = counter + 1n;
  const msg = ctx.slab.alloc(MESSAGE_TRANSPORT_MIN_SIZE + padded);
  writeTransportHeader(msg, kp.remoteIndex, counter, padded);
  let plaintext = packet;
  if (padded !== len) {
    if (ctx.scratch.length < padded) ctx.scratch = new Uint8Array(padded);
    plaintext = ctx.scratch.subarray(0, padded);
    plaintext.set(packet);
    plaintext.fill(0, len);
  }
  ctx.c.seal(kp.sendKey, counter, plaintext, null, msg, MESSAGE_TRANSPORT_HEADER_SIZE);
  sendTo(ctx, peer, msg, out);
}

export function sendTo(ctx: EngineContext, peer: Peer, data: Uint8Array, out: Action[]): void {
  if (peer.endpoint === null) {
    ctx.drop("no-endpoint");
    return;
  }
  peer.txBytes += data.length;
  out.push({ kind: "send", to: peer.endpoint, data });
}

/** Timers after a batch of transport messages left (wireguard-go RoutineSequentialSender). */
function afterSend(
  ctx: EngineContext,
  peer: Peer,
  dataSent: boolean,
  now: number,
  out: Action[],
): void {
  const t = peer.timers;
  t.timersAnyAuthenticatedPacketTraversal(now);
  t.timersAnyAuthenticatedPacketSent();
  if (dataSent) t.timersDataSent(now);
  keepKeyFreshSending(ctx, peer, now, out);
}

/** Flushes staged packets through the current keypair, or starts a handshake (SendStagedPackets). */
export function sendStagedPackets(
  ctx: EngineContext,
  peer: Peer,
  now: number,
  out: Action[],
): void {
  if (peer.staged.length === 0) return;
  const kp = peer.keypairs.current;
  if (kp === null || !canSend(kp, now)) {
    sendHandshakeInitiation(ctx, peer, false, now, out);
    return;
  }
  let sent = 0;
  let dataSent = false;
  for (const p of peer.staged) {
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES) break;
    seal(ctx, peer, kp, p, out);
    if (p.length > 0) dataSent = true;
    sent++;
  }
  peer.staged = sent === peer.staged.length ? [] : peer.staged.slice(sent);
  if (sent > 0) afterSend(ctx, peer, dataSent, now, out);
  if (peer.staged.length > 0) sendHandshakeInitiation(ctx, peer, false, now, out);
}

/** An empty transport message; staged packets go instead if there are any (wireguard-go). */
export function sendKeepalive(ctx: EngineContext, peer: Peer, now: number, out: Action[]): void {
  if (peer.staged.length === 0) peer.staged.push(EMPTY);
  sendStagedPackets(ctx, peer, now, out);
}

/** Rekey on send: counter past REKEY_AFTER_MESSAGES, or initiator keypair past REKEY_AFTER_TIME. */
function keepKeyFreshSending(ctx: EngineContext, peer: Peer, now: number, out: Action[]): void {
  const kp = peer.keypairs.current;
  if (kp === null) return;
  if (
    kp.sendCounter > REKEY_AFTER_MESSAGES ||
    (kp.isInitiator && now - kp.created > REKEY_AFTER_TIME)
  ) {
    sendHandshakeInitiation(ctx, peer, false, now, out);
  }
}

/** Initiator receive-side rekey once the keypair is 165 s old (whitepaper §6.2). */
export function keepKeyFreshReceiving(
  ctx: EngineContext,
  peer: Peer,
  now: number,
  out: Action[],
): void {
  if (peer.timers.sentLastMinuteHandshake) return;
  const kp = peer.keypairs.current;
  if (kp?.isInitiator && now - kp.created > REKEY_ON_RECEIVE_AFTER_TIME) {
    peer.timers.sentLastMinuteHandshake = true;
    sendHandshakeInitiation(ctx, peer, false, now, out);
  }
}
