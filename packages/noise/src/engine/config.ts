/**
 * The Engine's configuration (wireguard-go `uapi.go`, `device.go` SetPrivateKey, `peer.go`):
 * UAPI set and get, creating and removing peers, changing the private key.
 */
import type { Action } from "../actions.js";
import { KEY_SIZE, REJECT_AFTER_MESSAGES, REKEY_TIMEOUT } from "../constants.js";
import { CookieGenerator, constantTimeEqual, constantTimeIsZero } from "../cookie.js";
import { EIO, uapiErrnoOf } from "../errno.js";
import { Peer, toHex } from "../peer.js";
import {
  type DeviceSnapshot,
  formatGet,
  type PeerActivity,
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
  // Every computation that could fail (the DH of each peer to create, the new public key) runs
  // before the veto and before anything changes: a set that fails changes nothing.
  let keys: Keys;
  try {
    keys = prepareKeys(ctx, req);
  } catch {
    return -EIO;
  }
  if (beforeCommit !== undefined) {
    const r = beforeCommit(req);
    if (r !== 0) {
      wipeKeys(ctx, keys);
      return r > 0 ? -r : r;
    }
  }
  apply(ctx, req, keys, now, out);
  return 0;
}

/** What a set request's keys come to, computed before anything changes. */
interface Keys {
  /** The request changes the private key (to `privateKey`, null = none). */
  readonly changed: boolean;
  readonly privateKey: Uint8Array | null;
  readonly publicKey: Uint8Array | null;
  /** DH(private key after the request, peer) by peer hex, for every peer to (re)compute. */
  readonly staticStatic: Map<string, Uint8Array | null>;
}

function prepareKeys(ctx: EngineContext, req: SetRequest): Keys {
  let privateKey = ctx.privateKey;
  let publicKey = ctx.ownPublicKey;
  let changed = false;
  if (req.privateKey !== undefined) {
    const sk =
      req.privateKey === null || constantTimeIsZero(req.privateKey) ? null : req.privateKey;
    const same =
      privateKey === null ? sk === null : sk !== null && constantTimeEqual(privateKey, sk);
    if (!same) {
      changed = true;
      privateKey = sk === null ? null : sk.slice();
      publicKey = sk === null ? null : ctx.c.x25519PublicKey(sk);
    }
  }
  const staticStatic = new Map<string, Uint8Array | null>();
  const dh = (pub: Uint8Array, hex: string) => {
    if (!staticStatic.has(hex))
      staticStatic.set(hex, privateKey === null ? null : ctx.c.x25519(privateKey, pub));
  };
  if (changed) for (const p of ctx.byKey.values()) dh(p.publicKey, p.hex);
  for (const pr of req.peers) {
    const hex = toHex(pr.publicKey);
    if (!pr.remove && !pr.updateOnly && (req.replacePeers || !ctx.byKey.has(hex)))
      dh(pr.publicKey, hex);
  }
  return { changed, privateKey, publicKey, staticStatic };
}

/** Wipes what prepareKeys computed and the request did not use. */
function wipeKeys(ctx: EngineContext, keys: Keys): void {
  for (const ss of keys.staticStatic.values()) ss?.fill(0);
  if (keys.changed && keys.privateKey !== ctx.privateKey) keys.privateKey?.fill(0);
}

function apply(ctx: EngineContext, req: SetRequest, keys: Keys, now: number, out: Action[]): void {
  if (keys.changed) setPrivateKey(ctx, keys, now);
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
      peer = createPeer(ctx, pr.publicKey, keys);
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
  // Peers took copies; the computed values go (and those of peers not created, e.g. our own key).
  for (const ss of keys.staticStatic.values()) ss?.fill(0);
}

function createPeer(ctx: EngineContext, publicKey: Uint8Array, keys: Keys): Peer {
  const peer = new Peer(
    publicKey.slice(),
    new CookieGenerator(ctx.c, publicKey),
    ctx.jitter,
    ctx.dropKeypair,
    ctx.timersChanged,
  );
  peer.handshake.precomputedStaticStatic = keys.staticStatic.get(peer.hex)?.slice() ?? null;
  ctx.byKey.set(peer.hex, peer);
  return peer;
}

function removePeer(ctx: EngineContext, peer: Peer): void {
  peer.removed = true;
  ctx.deadlines.touch(peer);
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
function setPrivateKey(ctx: EngineContext, keys: Keys, now: number): void {
  const pk = keys.publicKey;
  if (pk !== null) {
    const same = ctx.byKey.get(toHex(pk));
    if (same !== undefined) removePeer(ctx, same);
  }
  ctx.privateKey?.fill(0);
  ctx.privateKey = keys.privateKey;
  ctx.ownPublicKey = pk;
  ctx.cookieChecker.init(pk);
  for (const peer of ctx.byKey.values()) {
    const hs = peer.handshake;
    hs.precomputedStaticStatic?.fill(0);
    hs.precomputedStaticStatic = keys.staticStatic.get(peer.hex)?.slice() ?? null;
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

/** One peer's live counters (the mesh controller's per-peer poll); null for an unknown key. */
export function peerActivity(ctx: EngineContext, publicKey: Uint8Array): PeerActivity | null {
  const peer = ctx.byKey.get(toHex(publicKey));
  if (peer === undefined) return null;
  return {
    endpoint: peer.endpoint,
    lastHandshakeNs: peer.lastHandshakeNs,
    txBytes: BigInt(peer.txBytes),
    rxBytes: BigInt(peer.rxBytes),
  };
}

/** Per-peer view for UAPI get and the mesh controller. */
export function peerSnapshots(ctx: EngineContext): PeerSnapshot[] {
  const list: PeerSnapshot[] = [];
  for (const peer of ctx.byKey.values()) {
    const psk = peer.handshake.presharedKey;
    list.push({
      publicKey: peer.publicKey.slice(),
      presharedKey: constantTimeIsZero(psk) ? null : psk.slice(),
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
