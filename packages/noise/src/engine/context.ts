/**
 * The state an Engine's parts share (wireguard-go's `Device` struct): keys, peers, the
 * allowed-IPs trie, the index table, cookie checking, drop counters and buffers. The behaviour
 * lives in the files named after wireguard-go's: receive.ts, send.ts, handshake.ts, timers.ts,
 * config.ts. Nothing here does I/O or reads a clock except the injected wall clock.
 */

import type { Action, PeerEvent } from "../actions.js";
import { AllowedIPs } from "../allowed-ips.js";
import {
  DEFAULT_MTU,
  DEFAULT_UNDER_LOAD_THRESHOLD,
  REKEY_TIMEOUT_JITTER_MAX,
} from "../constants.js";
import { CookieChecker } from "../cookie.js";
import type { CryptoProvider } from "../crypto/provider.js";
import type { DropCounts, DropReason } from "../drop-reason.js";
import type { Endpoint } from "../endpoint.js";
import { type Protocol, wireguardProtocol } from "../handshake.js";
import { IndexTable } from "../index-table.js";
import type { Keypair } from "../keypair.js";
import type { Peer } from "../peer.js";
import { RateLimiter } from "../ratelimiter.js";
import { Slab } from "../slab.js";
import { Deadlines } from "./deadlines.js";

export interface EngineOptions {
  crypto: CryptoProvider;
  /** Wall clock, ns since Unix epoch: used for TAI64N and for last-handshake times only. */
  wallClock?: () => bigint;
  random?: (n: number) => Uint8Array;
  mtu?: number;
}

export class EngineContext {
  readonly c: CryptoProvider;
  readonly wallClock: () => bigint;
  readonly random: (n: number) => Uint8Array;
  /** The tunnel's MTU, for padding (§5.4.6); follows the interface (Engine.mtu). */
  mtu: number;
  readonly proto: Protocol;
  privateKey: Uint8Array | null = null;
  ownPublicKey: Uint8Array | null = null;
  listenPort = 0;
  fwmark = 0;
  readonly byKey = new Map<string, Peer>();
  readonly allowedIps = new AllowedIPs<Peer>();
  readonly indices: IndexTable<Peer>;
  readonly cookieChecker: CookieChecker;
  readonly rateLimiter = new RateLimiter();
  readonly dropCounts: DropCounts = {};
  /**
   * Load detection: handshake messages counted in the current one-second window; above
   * `threshold` the device is under load until `until` (monotonic ms).
   */
  readonly load = {
    threshold: DEFAULT_UNDER_LOAD_THRESHOLD,
    windowStart: Number.NEGATIVE_INFINITY,
    count: 0,
    until: Number.NEGATIVE_INFINITY,
  };
  /** Padding scratch: the plaintext of a packet that needs padding is assembled here. */
  scratch: Uint8Array = new Uint8Array(2048);
  /** Transport messages and decrypted packets are carved from slabs (see slab.ts). */
  readonly slab = new Slab();
  readonly jitter = (): number => {
    const b = this.random(2);
    return (b[0] | (b[1] << 8)) % REKEY_TIMEOUT_JITTER_MAX;
  };
  /** Peers by earliest timer deadline: per-turn work proportional to what changed. */
  readonly deadlines = new Deadlines();
  readonly timersChanged = (peer: Peer): void => this.deadlines.touch(peer);
  readonly dropKeypair = (kp: Keypair): void => {
    this.indices.delete(kp.localIndex);
    kp.zero();
  };

  constructor(opts: EngineOptions) {
    this.c = opts.crypto;
    this.wallClock = opts.wallClock ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.random = opts.random ?? ((n) => this.c.randomBytes(n));
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.proto = wireguardProtocol(this.c);
    this.indices = new IndexTable<Peer>(this.random);
    this.cookieChecker = new CookieChecker(this.c);
  }

  /** Counts a dropped input under `reason`. */
  drop(reason: DropReason): void {
    this.dropCounts[reason] = (this.dropCounts[reason] ?? 0) + 1;
  }

  emit(out: Action[], peer: Peer, event: PeerEvent): void {
    out.push({ kind: "event", peer: peer.hex, event });
  }

  /** Roaming (whitepaper §2.1): the endpoint follows the latest authenticated packet. */
  setEndpointFromPacket(peer: Peer, from: Endpoint, out: Action[]): void {
    const e = peer.endpoint;
    if (
      e !== null &&
      e.port === from.port &&
      e.address === from.address &&
      e.family === from.family
    )
      return;
    const endpoint: Endpoint = { address: from.address, port: from.port, family: from.family };
    peer.endpoint = endpoint;
    this.emit(out, peer, { type: "endpoint-changed", endpoint });
  }
}
