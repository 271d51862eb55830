/**
 * The Engine's handshake steps (wireguard-go `noise-protocol.go` and the handshake half of
 * `send.go`/`receive.go`): consuming initiations and responses, creating them, and turning a
 * finished handshake into a keypair. The Noise arithmetic itself is in ../handshake.ts.
 */

import type { Action } from "../actions.js";
import { HANDSHAKE_INITIATION_RATE, KEY_SIZE, REKEY_TIMEOUT, TAI64N_SIZE } from "../constants.js";
import type { DropReason } from "../drop-reason.js";
import type { Endpoint } from "../endpoint.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
} from "../handshake.js";
import { Keypair } from "../keypair.js";
import { encodeInitiation, encodeResponse, type Initiation, type Response } from "../messages.js";
import { type Peer, toHex } from "../peer.js";
import { compareTai64n, tai64n } from "../tai64n.js";
import type { EngineContext } from "./context.js";
import { sendKeepalive, sendTo } from "./send.js";

const EMPTY = new Uint8Array(0);

/** Whitepaper §5.4.2, responder side; then send the response (§5.4.3). */
export function receiveInitiation(
  ctx: EngineContext,
  data: Uint8Array,
  m: Initiation,
  from: Endpoint,
  now: number,
  out: Action[],
): void {
  const sk = ctx.privateKey;
  const pk = ctx.ownPublicKey;
  if (sk === null || pk === null) {
    ctx.drop("no-private-key");
    return;
  }
  let peer: Peer | undefined;
  const r = consumeInitiation(
    ctx.c,
    ctx.proto,
    sk,
    pk,
    m.ephemeral,
    m.encryptedStatic,
    m.encryptedTimestamp,
    (remoteStatic) => {
      peer = ctx.byKey.get(toHex(remoteStatic));
      return peer === undefined ? undefined : peer.handshake.precomputedStaticStatic;
    },
  );
  if (typeof r === "string") {
    ctx.drop(`initiation-${r}`);
    return;
  }
  // A refused initiation leaves no key material behind.
  const refuse = (reason: DropReason) => {
    r.chainKey.fill(0);
    r.hash.fill(0);
    r.remoteEphemeral.fill(0);
    ctx.drop(reason);
  };
  if (peer === undefined || r.payload.length !== TAI64N_SIZE) {
    refuse("initiation-invalid");
    return;
  }
  const hs = peer.handshake;
  // Replay protection: the TAI64N must be strictly greater than the last accepted (§5.1).
  if (compareTai64n(r.payload, hs.lastTimestamp) <= 0) {
    refuse("initiation-replay");
    return;
  }
  // Flood protection: at most one initiation per peer per 20 ms (kernel INITIATIONS_PER_SECOND).
  if (
    hs.lastInitiationConsumed !== null &&
    now - hs.lastInitiationConsumed < HANDSHAKE_INITIATION_RATE
  ) {
    refuse("initiation-flood");
    return;
  }
  resetHandshake(ctx, peer);
  hs.chainKey = r.chainKey;
  hs.hash = r.hash;
  hs.remoteEphemeral = r.remoteEphemeral;
  hs.remoteIndex = m.sender;
  hs.lastTimestamp = r.payload;
  hs.lastInitiationConsumed = now;
  hs.state = "initiation-consumed";

  ctx.setEndpointFromPacket(peer, from, out);
  peer.timers.timersAnyAuthenticatedPacketTraversal(now);
  peer.timers.timersAnyAuthenticatedPacketReceived();
  peer.rxBytes += data.length;
  sendHandshakeResponse(ctx, peer, now, out);
}

function sendHandshakeResponse(ctx: EngineContext, peer: Peer, now: number, out: Action[]): void {
  const hs = peer.handshake;
  hs.lastSentHandshake = now;
  const ephemeralPrivate = ctx.random(KEY_SIZE);
  const r = createResponse(
    ctx.c,
    {
      chainKey: hs.chainKey,
      hash: hs.hash,
      remoteEphemeral: hs.remoteEphemeral,
      remoteStatic: peer.publicKey,
    },
    ephemeralPrivate,
    hs.presharedKey,
    EMPTY,
  );
  ephemeralPrivate.fill(0);
  if (r === null) {
    resetHandshake(ctx, peer);
    ctx.drop("response-bad-dh");
    return;
  }
  ctx.indices.delete(hs.localIndex);
  hs.localIndex = ctx.indices.newIndex(peer);
  hs.chainKey.fill(0);
  hs.hash.fill(0);
  hs.chainKey = r.chainKey;
  hs.hash = r.hash;
  hs.state = "response-created";
  const msg = encodeResponse({
    sender: hs.localIndex,
    receiver: hs.remoteIndex,
    ephemeral: r.ephemeral,
    encryptedNothing: r.encryptedPayload,
  });
  peer.cookies.addMacs(msg, now);
  beginSymmetricSession(ctx, peer, now);
  peer.timers.timersSessionDerived(now);
  peer.timers.timersAnyAuthenticatedPacketTraversal(now);
  peer.timers.timersAnyAuthenticatedPacketSent();
  sendTo(ctx, peer, msg, out);
}

/** Whitepaper §5.4.3, initiator side. */
export function receiveResponse(
  ctx: EngineContext,
  data: Uint8Array,
  m: Response,
  from: Endpoint,
  now: number,
  out: Action[],
): void {
  const sk = ctx.privateKey;
  if (sk === null) {
    ctx.drop("no-private-key");
    return;
  }
  const entry = ctx.indices.get(m.receiver);
  if (entry === undefined || entry.keypair !== null) {
    ctx.drop("response-unknown-index");
    return;
  }
  const peer = entry.peer;
  const hs = peer.handshake;
  if (hs.state !== "initiation-created" || hs.localIndex !== m.receiver) {
    ctx.drop("response-unexpected");
    return;
  }
  const r = consumeResponse(
    ctx.c,
    { chainKey: hs.chainKey, hash: hs.hash, ephemeralPrivate: hs.localEphemeral },
    sk,
    m.ephemeral,
    m.encryptedNothing,
    hs.presharedKey,
  );
  if (r === null) {
    ctx.drop("response-invalid");
    return;
  }
  hs.chainKey.fill(0);
  hs.hash.fill(0);
  hs.chainKey = r.chainKey;
  hs.hash = r.hash;
  hs.remoteIndex = m.sender;
  hs.state = "response-consumed";

  ctx.setEndpointFromPacket(peer, from, out);
  peer.timers.timersAnyAuthenticatedPacketTraversal(now);
  peer.timers.timersAnyAuthenticatedPacketReceived();
  peer.rxBytes += data.length;
  beginSymmetricSession(ctx, peer, now);
  peer.timers.timersSessionDerived(now);
  handshakeComplete(ctx, peer, "initiator", out);
  sendKeepalive(ctx, peer, now, out);
}

/** Whitepaper §5.4.2, initiator side; at most one per REKEY_TIMEOUT (wireguard-go). */
export function sendHandshakeInitiation(
  ctx: EngineContext,
  peer: Peer,
  isRetry: boolean,
  now: number,
  out: Action[],
): void {
  const hs = peer.handshake;
  if (!isRetry) peer.timers.handshakeAttempts = 0;
  if (hs.lastSentHandshake !== null && now - hs.lastSentHandshake < REKEY_TIMEOUT) {
    // A retry inside the limit follows a response we sent since our initiation: the peer's
    // crossing initiation replaced ours, so neither response completes. wireguard-go drops the
    // retry and arms nothing (no session until data or a keepalive asks again); it is postponed.
    if (isRetry) peer.timers.timersHandshakeRetryPostponed(hs.lastSentHandshake);
    return;
  }
  hs.lastSentHandshake = now;
  const pk = ctx.ownPublicKey;
  if (pk === null) {
    ctx.drop("no-private-key");
    return;
  }
  const ephemeralPrivate = ctx.random(KEY_SIZE);
  const r = createInitiation(
    ctx.c,
    ctx.proto,
    pk,
    peer.publicKey,
    hs.precomputedStaticStatic,
    ephemeralPrivate,
    tai64n(ctx.wallClock()),
  );
  ephemeralPrivate.fill(0);
  if (r === null) {
    ctx.drop("initiation-bad-dh");
    return;
  }
  resetHandshake(ctx, peer);
  hs.localIndex = ctx.indices.newIndex(peer);
  hs.chainKey = r.state.chainKey;
  hs.hash = r.state.hash;
  hs.localEphemeral = r.state.ephemeralPrivate;
  hs.state = "initiation-created";
  const msg = encodeInitiation({
    sender: hs.localIndex,
    ephemeral: r.ephemeral,
    encryptedStatic: r.encryptedStatic,
    encryptedTimestamp: r.encryptedPayload,
  });
  peer.cookies.addMacs(msg, now);
  ctx.emit(out, peer, { type: "handshake-initiated" });
  peer.timers.timersAnyAuthenticatedPacketTraversal(now);
  peer.timers.timersAnyAuthenticatedPacketSent();
  sendTo(ctx, peer, msg, out);
  peer.timers.timersHandshakeInitiated(now);
}

/**
 * A handshake the runtime asks for now (a mesh controller that just chose a new endpoint for
 * the peer: its answer proves the endpoint, reference/kubespan.md §4.4). Not a retry: a fresh
 * REKEY_ATTEMPT_TIME of retransmits, aimed at the endpoint as it is now. The once-per-
 * REKEY_TIMEOUT limit is lifted for this one initiation — the one in flight went to the old
 * endpoint — so the caller must not ask more often than that itself.
 */
export function initiateHandshakeNow(
  ctx: EngineContext,
  peer: Peer,
  now: number,
  out: Action[],
): void {
  peer.handshake.lastSentHandshake = null;
  sendHandshakeInitiation(ctx, peer, false, now, out);
}

export function handshakeComplete(
  ctx: EngineContext,
  peer: Peer,
  role: "initiator" | "responder",
  out: Action[],
): void {
  peer.timers.timersHandshakeComplete();
  peer.lastHandshakeNs = ctx.wallClock();
  ctx.emit(out, peer, { type: "handshake-completed", role });
}

/** KDF2(C, ε) into a keypair; the handshake state is zeroed (wireguard-go BeginSymmetricSession). */
function beginSymmetricSession(ctx: EngineContext, peer: Peer, now: number): void {
  const hs = peer.handshake;
  const isInitiator = hs.state === "response-consumed";
  const [a, b] = deriveTransportKeys(ctx.c, hs.chainKey);
  const kp = isInitiator
    ? new Keypair(a, b, now, true, hs.localIndex, hs.remoteIndex)
    : new Keypair(b, a, now, false, hs.localIndex, hs.remoteIndex);
  // The index now belongs to the keypair; the handshake must not free it.
  ctx.indices.setKeypair(hs.localIndex, kp);
  hs.localIndex = 0;
  hs.clear();
  peer.keypairs.install(kp);
}

/** Drops the in-flight handshake and frees its index. */
export function resetHandshake(ctx: EngineContext, peer: Peer): void {
  ctx.indices.delete(peer.handshake.localIndex);
  peer.handshake.clear();
}
