/**
 * The multi-peer sans-IO WireGuard engine (DESIGN.md "The path of a packet"). It is told about
 * datagrams, tunnel packets and the passing of time, and answers with actions; it never reads a
 * clock, schedules a timer or touches a socket. Behaviour follows the kernel and wireguard-go
 * (`device/receive.go`, `send.go`, `timers.go`, `noise-protocol.go`, `uapi.go`).
 */
import type { Action, PeerEvent } from "./actions.js";
import { AllowedIPs } from "./allowed-ips.js";
import { parseIp } from "./cidr.js";
import {
  DEFAULT_MTU,
  DEFAULT_UNDER_LOAD_THRESHOLD,
  HANDSHAKE_INITIATION_RATE,
  KEEPALIVE_TIMEOUT,
  KEY_SIZE,
  MAX_STAGED_PACKETS,
  MAX_TIMER_HANDSHAKES,
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_TRANSPORT_DATA,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_MIN_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ON_RECEIVE_AFTER_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  TAI64N_SIZE,
  UNDER_LOAD_AFTER_TIME,
  ZERO_KEY_MATERIAL_TIME,
} from "./constants.js";
import { CookieChecker, CookieGenerator, constantTimeEqual, cookieSource } from "./cookie.js";
import type { CryptoProvider } from "./crypto/provider.js";
import type { Endpoint } from "./endpoint.js";
import { uapiErrnoOf } from "./errno.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  type Protocol,
  wireguardProtocol,
} from "./handshake.js";
import { IndexTable } from "./index-table.js";
import { Keypair } from "./keypair.js";
import {
  type CookieReply,
  decodeMessage,
  encodeInitiation,
  encodeResponse,
  type Initiation,
  type Response,
  readU32,
  readU64,
  writeTransportHeader,
} from "./messages.js";
import {
  addressLength,
  destinationOffset,
  innerPacketLength,
  paddingSize,
  sourceOffset,
} from "./packet.js";
import { Peer, toHex } from "./peer.js";
import { RateLimiter } from "./ratelimiter.js";
import { Slab } from "./slab.js";
import { compareTai64n, tai64n } from "./tai64n.js";
import {
  type DeviceSnapshot,
  formatGet,
  type PeerSnapshot,
  parseSet,
  type SetRequest,
} from "./uapi.js";

export interface EngineOptions {
  crypto: CryptoProvider;
  /** Wall clock, ns since Unix epoch: used for TAI64N and for last-handshake times only. */
  wallClock?: () => bigint;
  random?: (n: number) => Uint8Array;
  mtu?: number;
}

const EMPTY = new Uint8Array(0);

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address && a.family === b.family;
}

export class Engine {
  /** Number of handshake messages per second above which the device is "under load". */
  underLoadThreshold = DEFAULT_UNDER_LOAD_THRESHOLD;

  private readonly c: CryptoProvider;
  private readonly wallClock: () => bigint;
  private readonly random: (n: number) => Uint8Array;
  private readonly mtu: number;
  private readonly proto: Protocol;
  private privateKey: Uint8Array | null = null;
  private ownPublicKey: Uint8Array | null = null;
  private listenPort = 0;
  private fwmark = 0;
  private readonly byKey = new Map<string, Peer>();
  private readonly allowedIps = new AllowedIPs<Peer>();
  private readonly indices: IndexTable<Peer>;
  private readonly cookieChecker: CookieChecker;
  private readonly rateLimiter = new RateLimiter();
  private readonly dropCounts: Record<string, number> = {};
  /** Load detection: handshake messages counted in the current one-second window. */
  private loadWindowStart = Number.NEGATIVE_INFINITY;
  private loadCount = 0;
  private underLoadUntil = Number.NEGATIVE_INFINITY;
  /** Padding scratch: the plaintext of a packet that needs padding is assembled here. */
  private scratch: Uint8Array = new Uint8Array(2048);
  /** Transport messages and decrypted packets are carved from slabs (see slab.ts). */
  private readonly slab = new Slab();
  private readonly jitter = (): number => {
    const b = this.random(2);
    return (b[0] | (b[1] << 8)) % REKEY_TIMEOUT_JITTER_MAX;
  };
  private readonly dropKeypair = (kp: Keypair): void => {
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

  /** Counters of dropped input by reason. */
  get drops(): Readonly<Record<string, number>> {
    return this.dropCounts;
  }

  get publicKey(): Uint8Array | null {
    return this.ownPublicKey === null ? null : this.ownPublicKey.slice();
  }

  private drop(reason: string): void {
    this.dropCounts[reason] = (this.dropCounts[reason] ?? 0) + 1;
  }

  private emit(out: Action[], peer: Peer, event: PeerEvent): void {
    out.push({ kind: "event", peer: peer.hex, event });
  }

  // ---------------------------------------------------------------------------------------
  // Input from the network

  /** Datagram received from the UDP socket. `now` is monotonic ms. Never throws. */
  handleDatagram(data: Uint8Array, from: Endpoint, now: number, out: Action[]): void {
    try {
      if (data.length >= 4 && readU32(data, 0) === MESSAGE_TRANSPORT_DATA) {
        this.receiveTransport(data, from, now, out);
        return;
      }
      const d = decodeMessage(data);
      if (!d.ok) {
        this.drop(d.reason);
        return;
      }
      const m = d.message;
      if (m.type === MESSAGE_HANDSHAKE_COOKIE) this.receiveCookieReply(m, now);
      else if (m.type === MESSAGE_HANDSHAKE_INITIATION || m.type === MESSAGE_HANDSHAKE_RESPONSE) {
        this.receiveHandshake(data, m, from, now, out);
      }
    } catch {
      // Defensive: no input may throw out of the engine.
      this.drop("internal-error");
    }
  }

  private isUnderLoad(now: number): boolean {
    return now < this.underLoadUntil;
  }

  /**
   * Counts a handshake message; more than `underLoadThreshold` in the current second puts the
   * device under load for UNDER_LOAD_AFTER_TIME (wireguard-go: UnderLoadAfterTime = 1 s).
   */
  private noteHandshake(now: number): void {
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    this.loadCount++;
    if (this.loadCount > this.underLoadThreshold) this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
  }

  private receiveHandshake(
    data: Uint8Array,
    m: Initiation | Response,
    from: Endpoint,
    now: number,
    out: Action[],
  ): void {
    this.noteHandshake(now);
    if (!this.cookieChecker.checkMac1(data)) {
      this.drop("bad-mac1");
      return;
    }
    if (this.isUnderLoad(now)) {
      let ip: Uint8Array;
      try {
        ip = parseIp(from.address);
      } catch {
        this.drop("bad-source");
        return;
      }
      const source = cookieSource(ip, from.port);
      if (!this.cookieChecker.checkMac2(data, source, now)) {
        const reply = this.cookieChecker.createReply(data, m.sender, source, now, this.random);
        if (reply !== null) out.push({ kind: "send", to: from, data: reply });
        this.drop("under-load-cookie-sent");
        return;
      }
      if (!this.rateLimiter.allow(ip, now)) {
        this.drop("rate-limited");
        return;
      }
    }
    if (m.type === MESSAGE_HANDSHAKE_INITIATION) this.receiveInitiation(data, m, from, now, out);
    else this.receiveResponse(data, m, from, now, out);
  }

  /** Whitepaper §5.4.2, responder side; then send the response (§5.4.3). */
  private receiveInitiation(
    data: Uint8Array,
    m: Initiation,
    from: Endpoint,
    now: number,
    out: Action[],
  ): void {
    const sk = this.privateKey;
    const pk = this.ownPublicKey;
    if (sk === null || pk === null) {
      this.drop("no-private-key");
      return;
    }
    let peer: Peer | undefined;
    const r = consumeInitiation(
      this.c,
      this.proto,
      sk,
      pk,
      m.ephemeral,
      m.encryptedStatic,
      m.encryptedTimestamp,
      (remoteStatic) => {
        peer = this.byKey.get(toHex(remoteStatic));
        return peer === undefined ? undefined : peer.handshake.precomputedStaticStatic;
      },
    );
    if (typeof r === "string") {
      this.drop(`initiation-${r}`);
      return;
    }
    if (peer === undefined || r.payload.length !== TAI64N_SIZE) {
      this.drop("initiation-invalid");
      return;
    }
    const hs = peer.handshake;
    // Replay protection: the TAI64N must be strictly greater than the last accepted (§5.1).
    if (compareTai64n(r.payload, hs.lastTimestamp) <= 0) {
      this.drop("initiation-replay");
      return;
    }
    // Flood protection: at most one initiation per peer per 20 ms (kernel INITIATIONS_PER_SECOND).
    if (
      hs.lastInitiationConsumed !== null &&
      now - hs.lastInitiationConsumed < HANDSHAKE_INITIATION_RATE
    ) {
      this.drop("initiation-flood");
      return;
    }
    this.resetHandshake(peer);
    hs.chainKey = r.chainKey;
    hs.hash = r.hash;
    hs.remoteEphemeral = r.remoteEphemeral;
    hs.remoteIndex = m.sender;
    hs.lastTimestamp = r.payload;
    hs.lastInitiationConsumed = now;
    hs.state = "initiation-consumed";

    this.setEndpointFromPacket(peer, from, out);
    peer.timers.timersAnyAuthenticatedPacketTraversal(now);
    peer.timers.timersAnyAuthenticatedPacketReceived();
    peer.rxBytes += data.length;
    this.sendHandshakeResponse(peer, now, out);
  }

  private sendHandshakeResponse(peer: Peer, now: number, out: Action[]): void {
    const hs = peer.handshake;
    hs.lastSentHandshake = now;
    const ephemeralPrivate = this.random(KEY_SIZE);
    const r = createResponse(
      this.c,
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
      this.resetHandshake(peer);
      this.drop("response-bad-dh");
      return;
    }
    this.indices.delete(hs.localIndex);
    hs.localIndex = this.indices.newIndex(peer);
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
    this.beginSymmetricSession(peer, now);
    peer.timers.timersSessionDerived(now);
    peer.timers.timersAnyAuthenticatedPacketTraversal(now);
    peer.timers.timersAnyAuthenticatedPacketSent();
    this.sendTo(peer, msg, out);
  }

  /** Whitepaper §5.4.3, initiator side. */
  private receiveResponse(
    data: Uint8Array,
    m: Response,
    from: Endpoint,
    now: number,
    out: Action[],
  ): void {
    const sk = this.privateKey;
    if (sk === null) {
      this.drop("no-private-key");
      return;
    }
    const entry = this.indices.get(m.receiver);
    if (entry === undefined || entry.keypair !== null) {
      this.drop("response-unknown-index");
      return;
    }
    const peer = entry.peer;
    const hs = peer.handshake;
    if (hs.state !== "initiation-created" || hs.localIndex !== m.receiver) {
      this.drop("response-unexpected");
      return;
    }
    const r = consumeResponse(
      this.c,
      { chainKey: hs.chainKey, hash: hs.hash, ephemeralPrivate: hs.localEphemeral },
      sk,
      m.ephemeral,
      m.encryptedNothing,
      hs.presharedKey,
    );
    if (r === null) {
      this.drop("response-invalid");
      return;
    }
    hs.chainKey.fill(0);
    hs.hash.fill(0);
    hs.chainKey = r.chainKey;
    hs.hash = r.hash;
    hs.remoteIndex = m.sender;
    hs.state = "response-consumed";

    this.setEndpointFromPacket(peer, from, out);
    peer.timers.timersAnyAuthenticatedPacketTraversal(now);
    peer.timers.timersAnyAuthenticatedPacketReceived();
    peer.rxBytes += data.length;
    this.beginSymmetricSession(peer, now);
    peer.timers.timersSessionDerived(now);
    this.handshakeComplete(peer, "initiator", out);
    this.sendKeepalive(peer, now, out);
  }

  private receiveCookieReply(m: CookieReply, now: number): void {
    const entry = this.indices.get(m.receiver);
    if (entry === undefined || entry.keypair !== null) {
      this.drop("cookie-unknown-index");
      return;
    }
    if (!entry.peer.cookies.consumeReply(m.nonce, m.encryptedCookie, now)) {
      this.drop("cookie-invalid");
      return;
    }
  }

  /** Whitepaper §5.4.6 receive path (wireguard-go RoutineReceiveIncoming + SequentialReceiver). */
  private receiveTransport(data: Uint8Array, from: Endpoint, now: number, out: Action[]): void {
    if (data.length < MESSAGE_TRANSPORT_MIN_SIZE) {
      this.drop("bad-length");
      return;
    }
    const entry = this.indices.get(readU32(data, 4));
    const kp = entry?.keypair;
    if (entry === undefined || kp == null) {
      this.drop("transport-unknown-index");
      return;
    }
    if (now - kp.created > REJECT_AFTER_TIME) {
      this.drop("transport-keypair-expired");
      return;
    }
    const counter = readU64(data, 8);
    if (counter >= REJECT_AFTER_MESSAGES) {
      this.drop("transport-counter-rejected");
      return;
    }
    const plaintext = this.slab.alloc(data.length - MESSAGE_TRANSPORT_MIN_SIZE);
    const n = this.c.open(
      kp.recvKey,
      counter,
      data.subarray(MESSAGE_TRANSPORT_HEADER_SIZE),
      null,
      plaintext,
      0,
    );
    if (n < 0) {
      this.drop("transport-decrypt-failed");
      return;
    }
    if (!kp.replay.check(counter, REJECT_AFTER_MESSAGES)) {
      this.drop("transport-replay");
      return;
    }

    const peer = entry.peer;
    const timers = peer.timers;
    this.setEndpointFromPacket(peer, from, out);
    if (peer.keypairs.receivedWith(kp)) {
      this.handshakeComplete(peer, "responder", out);
      this.sendStagedPackets(peer, now, out);
    }
    this.keepKeyFreshReceiving(peer, now, out);
    timers.timersAnyAuthenticatedPacketTraversal(now);
    timers.timersAnyAuthenticatedPacketReceived();
    peer.rxBytes += data.length;
    if (n === 0) return; // keepalive: authenticated, never delivered
    timers.timersDataReceived(now);

    const length = innerPacketLength(plaintext, n);
    if (length < 0) {
      this.drop("inner-invalid");
      return;
    }
    const packet = length === n ? plaintext : plaintext.subarray(0, length);
    // Cryptokey routing: the inner source must route back to the sending peer (§4).
    if (this.allowedIps.lookup(packet, sourceOffset(packet), addressLength(packet)) !== peer) {
      this.drop("inner-source-not-allowed");
      return;
    }
    out.push({ kind: "deliver", data: packet });
  }

  /** Roaming (whitepaper §2.1): the endpoint follows the latest authenticated packet. */
  private setEndpointFromPacket(peer: Peer, from: Endpoint, out: Action[]): void {
    if (peer.endpoint !== null && sameEndpoint(peer.endpoint, from)) return;
    const endpoint: Endpoint = { address: from.address, port: from.port, family: from.family };
    peer.endpoint = endpoint;
    this.emit(out, peer, { type: "endpoint-changed", endpoint });
  }

  private handshakeComplete(peer: Peer, role: "initiator" | "responder", out: Action[]): void {
    peer.timers.timersHandshakeComplete();
    peer.lastHandshakeNs = this.wallClock();
    this.emit(out, peer, { type: "handshake-completed", role });
  }

  /** KDF2(C, ε) into a keypair; the handshake state is zeroed (wireguard-go BeginSymmetricSession). */
  private beginSymmetricSession(peer: Peer, now: number): void {
    const hs = peer.handshake;
    const isInitiator = hs.state === "response-consumed";
    const [a, b] = deriveTransportKeys(this.c, hs.chainKey);
    const kp = isInitiator
      ? new Keypair(a, b, now, true, hs.localIndex, hs.remoteIndex)
      : new Keypair(b, a, now, false, hs.localIndex, hs.remoteIndex);
    // The index now belongs to the keypair; the handshake must not free it.
    this.indices.setKeypair(hs.localIndex, kp);
    hs.localIndex = 0;
    hs.clear();
    peer.keypairs.install(kp);
  }

  /** Drops the in-flight handshake and frees its index. */
  private resetHandshake(peer: Peer): void {
    this.indices.delete(peer.handshake.localIndex);
    peer.handshake.clear();
  }

  // ---------------------------------------------------------------------------------------
  // Input from the tunnel

  /** IP packet read from the tunnel: route by destination, seal or stage + initiate. Never throws. */
  handleOutbound(packet: Uint8Array, now: number, out: Action[]): void {
    try {
      const off = destinationOffset(packet);
      if (off < 0) {
        this.drop("outbound-not-ip");
        return;
      }
      const peer = this.allowedIps.lookup(packet, off, off === 16 ? 4 : 16);
      if (peer === undefined) {
        this.drop("outbound-no-route");
        return;
      }
      if (peer.staged.length === 0) {
        const kp = peer.keypairs.current;
        if (kp !== null && this.canSend(kp, now)) {
          this.seal(peer, kp, packet, out);
          this.afterSend(peer, true, now, out);
          return;
        }
      }
      this.stage(peer, packet.slice());
      this.sendStagedPackets(peer, now, out);
    } catch {
      this.drop("internal-error");
    }
  }

  private canSend(kp: Keypair, now: number): boolean {
    return kp.sendCounter < REJECT_AFTER_MESSAGES && now - kp.created < REJECT_AFTER_TIME;
  }

  private stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= MAX_STAGED_PACKETS) {
      peer.staged.shift();
      this.drop("staged-overflow");
    }
    peer.staged.push(packet);
  }

  /** Seals one packet with the next counter (whitepaper §5.4.6) and emits it. */
  private seal(peer: Peer, kp: Keypair, packet: Uint8Array, out: Action[]): void {
    const len = packet.length;
    const padded = len + paddingSize(len, this.mtu);
    const counter = kp.sendCounter;
    kp.sendCounter = counter + 1n;
    const msg = this.slab.alloc(MESSAGE_TRANSPORT_MIN_SIZE + padded);
    writeTransportHeader(msg, kp.remoteIndex, counter, padded);
    let plaintext = packet;
    if (padded !== len) {
      if (this.scratch.length < padded) this.scratch = new Uint8Array(padded);
      plaintext = this.scratch.subarray(0, padded);
      plaintext.set(packet);
      plaintext.fill(0, len);
    }
    this.c.seal(kp.sendKey, counter, plaintext, null, msg, MESSAGE_TRANSPORT_HEADER_SIZE);
    this.sendTo(peer, msg, out);
  }

  private sendTo(peer: Peer, data: Uint8Array, out: Action[]): void {
    if (peer.endpoint === null) {
      this.drop("no-endpoint");
      return;
    }
    peer.txBytes += data.length;
    out.push({ kind: "send", to: peer.endpoint, data });
  }

  /** Timers after a batch of transport messages left (wireguard-go RoutineSequentialSender). */
  private afterSend(peer: Peer, dataSent: boolean, now: number, out: Action[]): void {
    const t = peer.timers;
    t.timersAnyAuthenticatedPacketTraversal(now);
    t.timersAnyAuthenticatedPacketSent();
    if (dataSent) t.timersDataSent(now);
    this.keepKeyFreshSending(peer, now, out);
  }

  /** Flushes staged packets through the current keypair, or starts a handshake (SendStagedPackets). */
  private sendStagedPackets(peer: Peer, now: number, out: Action[]): void {
    if (peer.staged.length === 0) return;
    const kp = peer.keypairs.current;
    if (kp === null || !this.canSend(kp, now)) {
      this.sendHandshakeInitiation(peer, false, now, out);
      return;
    }
    let sent = 0;
    let dataSent = false;
    for (const p of peer.staged) {
      if (kp.sendCounter >= REJECT_AFTER_MESSAGES) break;
      this.seal(peer, kp, p, out);
      if (p.length > 0) dataSent = true;
      sent++;
    }
    peer.staged = sent === peer.staged.length ? [] : peer.staged.slice(sent);
    if (sent > 0) this.afterSend(peer, dataSent, now, out);
    if (peer.staged.length > 0) this.sendHandshakeInitiation(peer, false, now, out);
  }

  /** An empty transport message; staged packets go instead if there are any (wireguard-go). */
  private sendKeepalive(peer: Peer, now: number, out: Action[]): void {
    if (peer.staged.length === 0) peer.staged.push(EMPTY);
    this.sendStagedPackets(peer, now, out);
  }

  /** Rekey on send: counter past REKEY_AFTER_MESSAGES, or initiator keypair past REKEY_AFTER_TIME. */
  private keepKeyFreshSending(peer: Peer, now: number, out: Action[]): void {
    const kp = peer.keypairs.current;
    if (kp === null) return;
    if (
      kp.sendCounter > REKEY_AFTER_MESSAGES ||
      (kp.isInitiator && now - kp.created > REKEY_AFTER_TIME)
    ) {
      this.sendHandshakeInitiation(peer, false, now, out);
    }
  }

  /** Initiator receive-side rekey once the keypair is 165 s old (whitepaper §6.2). */
  private keepKeyFreshReceiving(peer: Peer, now: number, out: Action[]): void {
    if (peer.timers.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    if (kp?.isInitiator && now - kp.created > REKEY_ON_RECEIVE_AFTER_TIME) {
      peer.timers.sentLastMinuteHandshake = true;
      this.sendHandshakeInitiation(peer, false, now, out);
    }
  }

  /** Whitepaper §5.4.2, initiator side; at most one per REKEY_TIMEOUT (wireguard-go). */
  private sendHandshakeInitiation(peer: Peer, isRetry: boolean, now: number, out: Action[]): void {
    const hs = peer.handshake;
    if (!isRetry) peer.timers.handshakeAttempts = 0;
    if (hs.lastSentHandshake !== null && now - hs.lastSentHandshake < REKEY_TIMEOUT) return;
    hs.lastSentHandshake = now;
    const pk = this.ownPublicKey;
    if (pk === null) {
      this.drop("no-private-key");
      return;
    }
    const ephemeralPrivate = this.random(KEY_SIZE);
    const r = createInitiation(
      this.c,
      this.proto,
      pk,
      peer.publicKey,
      hs.precomputedStaticStatic,
      ephemeralPrivate,
      tai64n(this.wallClock()),
    );
    ephemeralPrivate.fill(0);
    if (r === null) {
      this.drop("initiation-bad-dh");
      return;
    }
    this.resetHandshake(peer);
    hs.localIndex = this.indices.newIndex(peer);
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
    this.emit(out, peer, { type: "handshake-initiated" });
    peer.timers.timersAnyAuthenticatedPacketTraversal(now);
    peer.timers.timersAnyAuthenticatedPacketSent();
    this.sendTo(peer, msg, out);
    peer.timers.timersHandshakeInitiated(now);
  }

  // ---------------------------------------------------------------------------------------
  // Time

  /** Time passed: run the timers that are due (reference §1.2). */
  tick(now: number, out: Action[]): void {
    for (const peer of [...this.byKey.values()]) {
      if (peer.removed) continue;
      const t = peer.timers;
      if (t.retransmitHandshake !== null && t.retransmitHandshake <= now) {
        t.retransmitHandshake = null;
        this.expiredRetransmitHandshake(peer, now, out);
      }
      if (t.sendKeepalive !== null && t.sendKeepalive <= now) {
        t.sendKeepalive = null;
        this.sendKeepalive(peer, now, out);
        if (t.needAnotherKeepalive) {
          t.needAnotherKeepalive = false;
          t.sendKeepalive = now + KEEPALIVE_TIMEOUT;
        }
      }
      if (t.newHandshake !== null && t.newHandshake <= now) {
        t.newHandshake = null;
        this.sendHandshakeInitiation(peer, false, now, out);
      }
      if (t.zeroKeyMaterial !== null && t.zeroKeyMaterial <= now) {
        t.zeroKeyMaterial = null;
        peer.keypairs.clear();
        this.resetHandshake(peer);
        peer.staged = [];
        this.emit(out, peer, { type: "keys-zeroed" });
      }
      if (t.persistentKeepalive !== null && t.persistentKeepalive <= now) {
        t.persistentKeepalive = null;
        if (t.persistentKeepaliveInterval > 0) this.sendKeepalive(peer, now, out);
      }
    }
    this.rateLimiter.gc(now);
  }

  private expiredRetransmitHandshake(peer: Peer, now: number, out: Action[]): void {
    const t = peer.timers;
    if (t.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      // Gave up after MAX_TIMER_HANDSHAKES + 2 initiations: drop what waited for the session.
      t.sendKeepalive = null;
      peer.staged = [];
      if (t.zeroKeyMaterial === null) t.zeroKeyMaterial = now + ZERO_KEY_MATERIAL_TIME;
      this.emit(out, peer, { type: "handshake-gave-up" });
      return;
    }
    t.handshakeAttempts++;
    this.sendHandshakeInitiation(peer, true, now, out);
  }

  /** Earliest ms at which tick() has work, or null when nothing is armed. */
  nextDeadline(): number | null {
    let best: number | null = null;
    for (const peer of this.byKey.values()) {
      const d = peer.timers.earliest();
      if (d !== null && (best === null || d < best)) best = d;
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------
  // Configuration (UAPI)

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
    this.apply(req, now, out);
    return 0;
  }

  private apply(req: SetRequest, now: number, out: Action[]): void {
    if (req.privateKey !== undefined) this.setPrivateKey(req.privateKey, now);
    if (req.listenPort !== undefined) this.listenPort = req.listenPort;
    if (req.fwmark !== undefined) this.fwmark = req.fwmark;
    if (req.replacePeers) for (const p of [...this.byKey.values()]) this.removePeer(p);
    for (const pr of req.peers) {
      // A peer with our own public key is silently ignored (wireguard-go uapi.go).
      if (this.ownPublicKey !== null && constantTimeEqual(pr.publicKey, this.ownPublicKey))
        continue;
      const hex = toHex(pr.publicKey);
      let peer = this.byKey.get(hex);
      if (pr.remove) {
        if (peer !== undefined) this.removePeer(peer);
        continue;
      }
      if (peer === undefined) {
        if (pr.updateOnly) continue;
        peer = this.createPeer(pr.publicKey);
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
      if (pr.replaceAllowedIps) this.allowedIps.removeValue(peer);
      for (const a of pr.allowedIps) {
        if (a.remove) this.allowedIps.remove(a.cidr, peer);
        else this.allowedIps.insert(a.cidr, peer);
      }
      // wireguard-go sends a keepalive at once when persistent keepalive is switched on.
      if (keepaliveTurnedOn) this.sendKeepalive(peer, now, out);
      this.sendStagedPackets(peer, now, out);
    }
  }

  private createPeer(publicKey: Uint8Array): Peer {
    const peer = new Peer(
      publicKey.slice(),
      new CookieGenerator(this.c, publicKey),
      this.jitter,
      this.dropKeypair,
    );
    peer.handshake.precomputedStaticStatic =
      this.privateKey === null ? null : this.c.x25519(this.privateKey, publicKey);
    this.byKey.set(peer.hex, peer);
    return peer;
  }

  private removePeer(peer: Peer): void {
    peer.removed = true;
    peer.timers.stopAll();
    peer.keypairs.clear();
    this.resetHandshake(peer);
    peer.staged = [];
    peer.handshake.precomputedStaticStatic?.fill(0);
    this.allowedIps.removeValue(peer);
    this.byKey.delete(peer.hex);
  }

  /**
   * New private key (wireguard-go SetPrivateKey): drop a peer that has our new public key,
   * recompute every static-static DH, drop handshakes in flight and stop sending on the old
   * sessions so the next packet starts a handshake under the new identity.
   */
  private setPrivateKey(sk: Uint8Array | null, now: number): void {
    if (sk?.every((b) => b === 0)) sk = null;
    const old = this.privateKey;
    if (old === null ? sk === null : sk !== null && constantTimeEqual(old, sk)) return;
    const pk = sk === null ? null : this.c.x25519PublicKey(sk);
    if (pk !== null) {
      const same = this.byKey.get(toHex(pk));
      if (same !== undefined) this.removePeer(same);
    }
    old?.fill(0);
    this.privateKey = sk === null ? null : sk.slice();
    this.ownPublicKey = pk;
    this.cookieChecker.init(pk);
    for (const peer of this.byKey.values()) {
      const hs = peer.handshake;
      hs.precomputedStaticStatic?.fill(0);
      hs.precomputedStaticStatic = sk === null ? null : this.c.x25519(sk, peer.publicKey);
      // ExpireCurrentKeypairs.
      this.resetHandshake(peer);
      hs.lastSentHandshake = now - (REKEY_TIMEOUT + 1000);
      if (peer.keypairs.current !== null) peer.keypairs.current.sendCounter = REJECT_AFTER_MESSAGES;
      if (peer.keypairs.next !== null) peer.keypairs.next.sendCounter = REJECT_AFTER_MESSAGES;
    }
  }

  /** UAPI get: the key=value lines (without the trailing errno line). */
  ipcGet(): string {
    const snapshot: DeviceSnapshot = {
      privateKey: this.privateKey === null ? null : this.privateKey.slice(),
      listenPort: this.listenPort,
      fwmark: this.fwmark,
      peers: this.peers(),
    };
    return formatGet(snapshot);
  }

  /** Per-peer view for UAPI get and the mesh controller. */
  peers(): PeerSnapshot[] {
    const list: PeerSnapshot[] = [];
    for (const peer of this.byKey.values()) {
      const psk = peer.handshake.presharedKey;
      list.push({
        publicKey: peer.publicKey.slice(),
        presharedKey: psk.every((b) => b === 0) ? null : psk.slice(),
        endpoint: peer.endpoint,
        lastHandshakeNs: peer.lastHandshakeNs,
        txBytes: BigInt(peer.txBytes),
        rxBytes: BigInt(peer.rxBytes),
        persistentKeepalive: peer.timers.persistentKeepaliveInterval,
        allowedIps: this.allowedIps.entries(peer),
      });
    }
    return list;
  }
}
