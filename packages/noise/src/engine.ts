/**
 * The multi-peer sans-IO WireGuard engine (DESIGN.md "The path of a packet"). It is told about
 * datagrams, tunnel packets and the passing of time, and answers with actions; it never reads a
 * clock, schedules a timer or touches a socket. Behaviour follows the kernel and wireguard-go,
 * split the same way: engine/receive.ts (`receive.go`), engine/send.ts (`send.go`),
 * engine/handshake.ts (`noise-protocol.go`), engine/timers.ts (`timers.go`), engine/config.ts
 * (`uapi.go`), over the shared state in engine/context.ts.
 */
import type { Action } from "./actions.js";
import type { DropCounts } from "./drop-reason.js";
import type { Endpoint } from "./endpoint.js";
import { ipcGet, ipcSet, peerActivity, peerSnapshots } from "./engine/config.js";
import { EngineContext, type EngineOptions } from "./engine/context.js";
import { initiateHandshakeNow } from "./engine/handshake.js";
import { receiveDatagram, reportLoad } from "./engine/receive.js";
import { sendOutbound } from "./engine/send.js";
import { nextDeadline, tick } from "./engine/timers.js";
import { toHex } from "./peer.js";
import type { PeerActivity, PeerSnapshot, SetRequest } from "./uapi.js";

export type { EngineOptions } from "./engine/context.js";

export class Engine {
  private readonly ctx: EngineContext;

  constructor(opts: EngineOptions) {
    this.ctx = new EngineContext(opts);
  }

  /** Number of handshake messages per second above which the device is "under load". */
  get underLoadThreshold(): number {
    return this.ctx.load.threshold;
  }

  set underLoadThreshold(n: number) {
    this.ctx.load.threshold = n;
  }

  /**
   * The runtime saw more handshake messages queued than it could take (e.g. its receive
   * classifier shed some): answer handshakes without a valid mac2 by cookie replies for the
   * next UNDER_LOAD_AFTER_TIME. The Engine's own rate count (`underLoadThreshold`) stays on for
   * runtimes that cannot see their queue.
   */
  reportLoad(now: number): void {
    reportLoad(this.ctx, now);
  }

  /**
   * The tunnel MTU that transport padding is clamped to (whitepaper §5.4.6, wireguard-go
   * `calculatePaddingSize`). A runtime whose interface MTU changes (`ip link set … mtu`) sets it,
   * as wireguard-go does on its TUN's MTU event; 0 pads to 16 without a clamp.
   */
  get mtu(): number {
    return this.ctx.mtu;
  }

  set mtu(mtu: number) {
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 65535) {
      throw new RangeError(`invalid MTU ${mtu}: an integer from 0 to 65535`);
    }
    this.ctx.mtu = mtu;
  }

  /** Counters of dropped input by reason. */
  get drops(): Readonly<DropCounts> {
    return this.ctx.dropCounts;
  }

  get publicKey(): Uint8Array | null {
    const pk = this.ctx.ownPublicKey;
    return pk === null ? null : pk.slice();
  }

  /** Datagram received from the UDP socket. `now` is monotonic ms. Never throws. */
  handleDatagram(data: Uint8Array, from: Endpoint, now: number, out: Action[]): void {
    receiveDatagram(this.ctx, data, from, now, out);
  }

  /** IP packet read from the tunnel: route by destination, seal or stage + initiate. Never throws. */
  handleOutbound(packet: Uint8Array, now: number, out: Action[]): void {
    sendOutbound(this.ctx, packet, now, out);
  }

  /** Time passed: run the timers that are due (reference §1.2). */
  tick(now: number, out: Action[]): void {
    tick(this.ctx, now, out);
  }

  /**
   * Starts a handshake with the peer now, to its current endpoint, even if an initiation went
   * out less than REKEY_TIMEOUT ago (engine/handshake.ts `initiateHandshakeNow`). For a runtime
   * that changed the peer's endpoint and wants it proven; at most once per REKEY_TIMEOUT per
   * peer. Returns false when the peer is unknown.
   */
  initiateHandshake(publicKey: Uint8Array, now: number, out: Action[]): boolean {
    const peer = this.ctx.byKey.get(toHex(publicKey));
    if (peer === undefined) return false;
    initiateHandshakeNow(this.ctx, peer, now, out);
    return true;
  }

  /** Earliest ms at which tick() has work, or null when nothing is armed. */
  nextDeadline(): number | null {
    return nextDeadline(this.ctx);
  }

  /**
   * UAPI set. Returns 0 or a negative errno. Everything is validated (the whole body, then the
   * `beforeCommit` veto) before anything changes, so a failing set changes nothing.
   */
  ipcSet(
    body: string,
    now: number,
    out: Action[],
    beforeCommit?: (req: SetRequest) => number,
  ): number {
    return ipcSet(this.ctx, body, now, out, beforeCommit);
  }

  /** UAPI get: the key=value lines (without the trailing errno line). */
  ipcGet(): string {
    return ipcGet(this.ctx);
  }

  /** Per-peer view for UAPI get and the mesh controller. */
  peers(): PeerSnapshot[] {
    return peerSnapshots(this.ctx);
  }

  /** One peer's endpoint, last handshake and byte counters, null for an unknown key. */
  peerActivity(publicKey: Uint8Array): PeerActivity | null {
    return peerActivity(this.ctx, publicKey);
  }
}
