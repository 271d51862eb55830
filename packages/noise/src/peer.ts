/**
 * One configured peer: its static key, handshake record, keypair slots, timers, cookie state,
 * endpoint, staged packets and traffic counters. Plain state; the Engine drives it.
 */
import type { CookieGenerator } from "./cookie.js";
import type { Endpoint } from "./endpoint.js";
import { Handshake } from "./handshake.js";
import { type Keypair, Keypairs } from "./keypair.js";
import { PeerTimers } from "./timers.js";

export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

export class Peer {
  readonly hex: string;
  readonly handshake: Handshake;
  readonly keypairs: Keypairs;
  readonly timers: PeerTimers;
  endpoint: Endpoint | null = null;
  /** Packets waiting for a session, oldest first (copies owned by the engine). */
  staged: Uint8Array[] = [];
  /** Wire bytes of authenticated datagrams (numbers: exact up to 2^53 bytes). */
  txBytes = 0;
  rxBytes = 0;
  /** Wall clock (Unix ns) of the last completed handshake; 0n = never. */
  lastHandshakeNs = 0n;
  /** Peer removed from the engine: late timers and lookups ignore it. */
  removed = false;
  /** Its timers changed since the Engine last ordered it by deadline (engine/deadlines.ts). */
  timersDirty = false;

  /** `timersChanged(peer)` is told whenever one of the peer's timer deadlines moves. */
  constructor(
    readonly publicKey: Uint8Array,
    readonly cookies: CookieGenerator,
    jitter: () => number,
    dropKeypair: (kp: Keypair) => void,
    timersChanged: (peer: Peer) => void = () => {},
  ) {
    this.hex = toHex(publicKey);
    this.handshake = new Handshake(publicKey);
    this.keypairs = new Keypairs(dropKeypair);
    this.timers = new PeerTimers(jitter, () => timersChanged(this));
  }
}
