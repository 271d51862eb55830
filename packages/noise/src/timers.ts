/**
 * The five per-peer timers of WireGuard (whitepaper §6; reference §1.2), as deadlines in
 * monotonic ms, driven by the kernel's hook names (timers.c / wireguard-go timers.go). The hooks
 * only arm and disarm and report that a deadline moved; the Engine keeps the peers ordered by
 * deadline (engine/deadlines.ts), so nothing here reads a clock or schedules anything.
 */
import {
  KEEPALIVE_TIMEOUT,
  NEW_HANDSHAKE_TIMEOUT,
  REKEY_TIMEOUT,
  ZERO_KEY_MATERIAL_TIME,
} from "./constants.js";

export type TimerName =
  | "retransmitHandshake"
  | "sendKeepalive"
  | "newHandshake"
  | "zeroKeyMaterial"
  | "persistentKeepalive";

export class PeerTimers {
  private retransmitAt: number | null = null;
  private keepaliveAt: number | null = null;
  private newHandshakeAt: number | null = null;
  private zeroKeysAt: number | null = null;
  private persistentAt: number | null = null;

  /** Resend the initiation: REKEY_TIMEOUT + jitter after sending one. */
  get retransmitHandshake(): number | null {
    return this.retransmitAt;
  }
  set retransmitHandshake(at: number | null) {
    if (at !== this.retransmitAt) {
      this.retransmitAt = at;
      this.changed();
    }
  }
  /** Passive keepalive: KEEPALIVE_TIMEOUT after data was received and nothing sent. */
  get sendKeepalive(): number | null {
    return this.keepaliveAt;
  }
  set sendKeepalive(at: number | null) {
    if (at !== this.keepaliveAt) {
      this.keepaliveAt = at;
      this.changed();
    }
  }
  /** Data sent, nothing authenticated received for KEEPALIVE + REKEY_TIMEOUT + jitter. */
  get newHandshake(): number | null {
    return this.newHandshakeAt;
  }
  set newHandshake(at: number | null) {
    if (at !== this.newHandshakeAt) {
      this.newHandshakeAt = at;
      this.changed();
    }
  }
  /** Wipe all keys REJECT_AFTER_TIME × 3 after the last session derivation. */
  get zeroKeyMaterial(): number | null {
    return this.zeroKeysAt;
  }
  set zeroKeyMaterial(at: number | null) {
    if (at !== this.zeroKeysAt) {
      this.zeroKeysAt = at;
      this.changed();
    }
  }
  /** Persistent keepalive interval after the last authenticated packet either way. */
  get persistentKeepalive(): number | null {
    return this.persistentAt;
  }
  set persistentKeepalive(at: number | null) {
    if (at !== this.persistentAt) {
      this.persistentAt = at;
      this.changed();
    }
  }

  /** Retransmissions since the last new (non-retry) initiation. */
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  /** The initiator's receive-side rekey at 165 s fires only once per keypair. */
  sentLastMinuteHandshake = false;
  /** Seconds, 0 = off. */
  persistentKeepaliveInterval = 0;

  /**
   * `jitter()` returns a uniformly drawn 0 ≤ ms < REKEY_TIMEOUT_JITTER_MAX; `changed()` is told
   * whenever a deadline moves, so the Engine revisits only the peers whose timers changed.
   */
  constructor(
    private readonly jitter: () => number,
    private readonly changed: () => void = () => {},
  ) {}

  /** Should be called after an authenticated data packet is sent. */
  timersDataSent(now: number): void {
    if (this.newHandshake === null) this.newHandshake = now + NEW_HANDSHAKE_TIMEOUT + this.jitter();
  }

  /** Should be called after an authenticated data packet is received. */
  timersDataReceived(now: number): void {
    if (this.sendKeepalive === null) this.sendKeepalive = now + KEEPALIVE_TIMEOUT;
    else this.needAnotherKeepalive = true;
  }

  /** Should be called after any type of authenticated packet is sent (keepalive, data, handshake). */
  timersAnyAuthenticatedPacketSent(): void {
    this.sendKeepalive = null;
  }

  /** Should be called after any type of authenticated packet is received (keepalive, data, handshake). */
  timersAnyAuthenticatedPacketReceived(): void {
    this.newHandshake = null;
  }

  /** Should be called after a handshake initiation message is sent. */
  timersHandshakeInitiated(now: number): void {
    this.retransmitHandshake = now + REKEY_TIMEOUT + this.jitter();
  }

  /** A retransmit fell within REKEY_TIMEOUT of the handshake message sent at `lastSent`. */
  timersHandshakeRetryPostponed(lastSent: number): void {
    this.retransmitHandshake = lastSent + REKEY_TIMEOUT + this.jitter();
  }

  /** Should be called after a handshake response is received or a new keypair is confirmed. */
  timersHandshakeComplete(): void {
    this.retransmitHandshake = null;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** Should be called after an ephemeral key is created (responder or initiator session). */
  timersSessionDerived(now: number): void {
    this.zeroKeyMaterial = now + ZERO_KEY_MATERIAL_TIME;
  }

  /** Should be called before a packet with authentication is sent or after one is received. */
  timersAnyAuthenticatedPacketTraversal(now: number): void {
    if (this.persistentKeepaliveInterval > 0) {
      this.persistentKeepalive = now + this.persistentKeepaliveInterval * 1000;
    }
  }

  /** Earliest armed deadline, or null. */
  earliest(): number | null {
    return earlier(
      earlier(
        earlier(this.retransmitAt, this.keepaliveAt),
        earlier(this.newHandshakeAt, this.zeroKeysAt),
      ),
      this.persistentAt,
    );
  }

  /** Disarms every timer (peer removed). */
  stopAll(): void {
    this.retransmitHandshake = null;
    this.sendKeepalive = null;
    this.newHandshake = null;
    this.zeroKeyMaterial = null;
    this.persistentKeepalive = null;
  }
}

/** The earlier of two optional deadlines (no allocation: runs for every changed peer). */
function earlier(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null || a <= b ? a : b;
}
