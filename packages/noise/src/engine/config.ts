/**
 * The Engine's configuration (wireguard-go `uapi.go`, `device.go` SetPrivateKey, `peer.go`):
 * UAPI set and get, creating and removing peers, changing the private key.
 */
import type { Action } from "../actions.js";
import { KEY_SIZE, REJECT_AFTER_MESSAGES, REKEY_TIMEOUT } from "../constants.js";
import { CookieGenerator, constantTimeEqual } from "../cookie.js";
import { uapiErrnoOf } from "../errno.js";
import { Peer, toHex } from "../peer.js";
import {
  type DeviceSnapshot,
  formatGet,
  type PeerSnapshot,
  parseSet,
  type SetRequest,
} from "../uapi.js";
import type { EngineContext } from "./context.js";
import { resetHandshake } from "./handshake.js";
import { sendKeepalive, sendStagedPackets } from "./send.js";

/**
 * UAPI set. Returns 0 or a negative errno. Everything is validated (the whole body, then the
 * `beforeCommit` veto) before anything changes, so a failing set changes nothing.
 */
export function ipcSet(
  ctx: EngineContext,
  body: string,
  now: number,
  out: Action[],
  beforeCommit?: (req: SetRequest) => number,
): number {
  let req: SetRequest;
  try {
    req = parseSet(body);
  } catch (e) {
    return uapiErrnoOf(e);
  }
  if (beforeCommit !== undefined) {
    const r = beforeCommit(req);
    if (r !== 0) return r > 0 ? -r : r;
  }
  apply(ctx, req, now, out);
  return 0;
}

function apply(ctx: EngineContext, req: SetRequest, now: number, out: Action[]): void {
  if (req.privateKey !== undefined) setPrivateKey(ctx, req.privateKey, now);
  if (req.listenPort !== undefined) ctx.listenPort = req.listenPort;
  if (req.fwmark !== undefined) ctx.fwmark = req.fwmark;
  if (req.replacePeers) for (const p of [...ctx.byKey.values()]) removePeer(ctx, p);
  for (const pr of req.peers) {
    // A peer with our own public key is silently ignored (wireguard-go uapi.go).
    if (ctx.ownPublicKey !== null && constantTimeEqual(pr.publicKey, ctx.ownPublicKey)) continue;
    const hex = toHex(pr.publicKey);
    let peer = ctx.byKey.get(hex);
    if (pr.remove) {
      if (peer !== undefined) removePeer(ctx, peer);
      continue;
    }
    if (peer === undefined) {
      if (pr.updateOnly) continue;
      peer = createPeer(ctx, pr.publicKey);
    }
    if (pr.presharedKey !== undefined) {
      peer.handshake.presharedKey = pr.presharedKey?.slice() ?? new Uint8Array(KEY_SIZE);
    }
    if (pr.endpoint !== undefined) {
      const e = pr.endpoint;
      peer.endpoint = { address: e.address, port: e.port, family: e.family };
    }
    let keepaliveTurnedOn = false;
    if (pr.persistentKeepalive !== undefined) {
      const old = peer.timers.persistentKeepaliveInterval;
      peer.timers.persistentKeepaliveInterval = pr.persistentKeepalive;
      if (pr.persistentKeepalive === 0) peer.timers.persistentKeepalive = null;
      keepaliveTurnedOn = old === 0 && pr.persistentKeepalive !== 0;
    }
    if (pr.replaceAllowedIps) ctx.allowedIps.removeValue(peer);
    for (const a of pr.allowedIps) {
      if (a.remove) ctx.allowedIps.remove(a.cidr, peer);
      else ctx.allowedIps.insert(a.cidr, peer);
    }
    // wireguard-go sends a keepalive at once when persistent keepalive is switched on.
    if (keepaliveTurnedOn) sendKeepalive(ctx, peer, now, out);
    sendStagedPackets(ctx, peer, now, out);
  }
}

function createPeer(ctx: EngineContext, publicKey: Uint8Array): Peer {
  const peer = new Peer(
    publicKey.slice(),
    new CookieGenerator(ctx.c, publicKey),
    ctx.jitter,
    ctx.dropKeypair,
  );
  peer.handshake.precomputedStaticStatic =
    ctx.privateKey === null ? null : ctx.c.x25519(ctx.privateKey, publicKey);
  ctx.byKey.set(peer.hex, peer);
  return peer;
}

function removePeer(ctx: EngineContext, peer: Peer): void {
  peer.removed = true;
  peer.timers.stopAll();
  peer.keypairs.clear();
  resetHandshake(ctx, peer);
  peer.staged = [];
  peer.handshake.precomputedStaticStatic?.fill(0);
  ctx.allowedIps.removeValue(peer);
  ctx.byKey.delete(peer.hex);
}

/**
 * New private key (wireguard-go SetPrivateKey): drop a peer that has our new public key,
 * recompute every static-static DH, drop handshakes in flight and stop sending on the old
 * sessions so the next packet starts a handshake under the new identity.
 */
function setPrivateKey(ctx: EngineContext, sk: Uint8Array | null, now: number): void {
  if (sk?.every((b) => b === 0)) sk = null;
  const old = ctx.privateKey;
  if (old === null ? sk === null : sk !== null && constantTimeEqual(old, sk)) return;
  const pk = sk === null ? null : ctx.c.x25519PublicKey(sk);
  if (pk !== null) {
    const same = ctx.byKey.get(toHex(pk));
    if (same !== undefined) removePeer(ctx, same);
  }
  old?.fill(0);
  ctx.privateKey = sk === null ? null : sk.slice();
  ctx.ownPublicKey = pk;
  ctx.cookieChecker.init(pk);
  for (const peer of ctx.byKey.values()) {
    const hs = peer.handshake;
    hs.precomputedStaticStatic?.fill(0);
    hs.precomputedStaticStatic = sk === null ? null : ctx.c.x25519(sk, peer.publicKey);
    // ExpireCurrentKeypairs.
    resetHandshake(ctx, peer);
    hs.lastSentHandshake = now - (REKEY_TIMEOUT + 1000);
    if (peer.keypairs.current !== null) peer.keypairs.current.sendCounter = REJECT_AFTER_MESSAGES;
    if (peer.keypairs.next !== null) peer.keypairs.next.sendCounter = REJECT_AFTER_MESSAGES;
  }
}

/** UAPI get: the key=value lines (without the trailing errno line). */
export function ipcGet(ctx: EngineContext): string {
  const snapshot: DeviceSnapshot = {
    privateKey: ctx.privateKey === null ? null : ctx.privateKey.slice(),
    listenPort: ctx.listenPort,
    fwmark: ctx.fwmark,
    peers: peerSnapshots(ctx),
  };
  return formatGet(snapshot);
}

/** Per-peer view for UAPI get and the mesh controller. */
export function peerSnapshots(ctx: EngineContext): PeerSnapshot[] {
  const list: PeerSnapshot[] = [];
  for (const peer of ctx.byKey.values()) {
    const psk = peer.handshake.presharedKey;
    list.push({
      publicKey: peer.publicKey.slice(),
      presharedKey: psk.every((b) => b === 0) ? null : psk.slice(),
      endpoint: peer.endpoint,
      lastHandshakeNs: peer.lastHandshakeNs,
      txBytes: BigInt(peer.txBytes),
      rxBytes: BigInt(peer.rxBytes),
      persistentKeepalive: peer.timers.persistentKeepaliveInterval,
      allowedIps: ctx.allowedIps.entries(peer),
    });
  }
  return list;
}
