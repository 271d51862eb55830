/**
 * mac1, mac2 and cookie replies (whitepaper §5.4.4, §5.4.7; reference §1.1).
 *
 * Every handshake message ends in mac1 = MAC(HASH(LABEL_MAC1 ‖ S_pub_receiver), msg[..mac1]) and
 * mac2 = MAC(cookie, msg[..mac2]) (zeros when no fresh cookie is held). Under load a responder
 * answers a message without a valid mac2 by a cookie reply: XAEAD(HASH(LABEL_COOKIE ‖ S_pub),
 * random 24-byte nonce, cookie, aad = mac1 of the message). As the kernel does, the cookie is
 * MAC(secret, source IP ‖ source UDP port) and the secret changes every COOKIE_REFRESH_TIME.
 */
import {
  COOKIE_NONCE_SIZE,
  COOKIE_REFRESH_TIME,
  COOKIE_SECRET_LATENCY,
  KEY_SIZE,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_SIZE,
} from "./constants.js";
import type { CryptoProvider } from "./crypto/provider.js";
import { encodeCookieReply } from "./messages.js";

/** Constant-time equality of two byte strings of the same length. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/**
 * Whether every byte is zero, in time that depends on the length only: for secrets (private
 * keys, preshared keys), where an early exit would tell how many leading bytes are zero.
 */
export function constantTimeIsZero(a: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i];
  return d === 0;
}

/** Offsets of mac1 and mac2: the last 32 bytes of a handshake message. */
function macOffsets(msg: Uint8Array): [number, number] {
  const mac2 = msg.length - MAC_SIZE;
  return [mac2 - MAC_SIZE, mac2];
}

/** The bytes a cookie is bound to: source IP (4 or 16 bytes) ‖ source port (big-endian). */
export function cookieSource(ip: Uint8Array, port: number): Uint8Array {
  const b = new Uint8Array(ip.length + 2);
  b.set(ip);
  b[ip.length] = (port >>> 8) & 0xff;
  b[ip.length + 1] = port & 0xff;
  return b;
}

/** Responder side: verifies mac1/mac2 of incoming handshake messages and makes cookie replies. */
export class CookieChecker {
  private mac1Key: Uint8Array | null = null;
  private cookieKey: Uint8Array | null = null;
  private secret: Uint8Array = new Uint8Array(KEY_SIZE);
  /** Monotonic ms at which `secret` was drawn; null before the first reply. */
  private secretSet: number | null = null;
  private memo: { source: Uint8Array; cookie: Uint8Array } | null = null;

  constructor(private readonly c: CryptoProvider) {}

  /** Keys derive from our own public key (null: no private key, every message fails mac1). */
  init(publicKey: Uint8Array | null): void {
    this.mac1Key = publicKey === null ? null : this.c.hash(LABEL_MAC1, publicKey);
    this.cookieKey = publicKey === null ? null : this.c.hash(LABEL_COOKIE, publicKey);
  }

  checkMac1(msg: Uint8Array): boolean {
    if (this.mac1Key === null) return false;
    const [m1, m2] = macOffsets(msg);
    const mac = this.c.mac(this.mac1Key, msg.subarray(0, m1));
    return constantTimeEqual(mac, msg.subarray(m1, m2));
  }

  /**
   * mac2 against the cookie for `source`. An all-zero mac2 (the sender holds no cookie) fails
   * without computing anything, so a flood without cookies costs no keyed hash here.
   */
  checkMac2(msg: Uint8Array, source: Uint8Array, now: number): boolean {
    if (this.secretSet === null || now - this.secretSet > COOKIE_REFRESH_TIME) return false;
    const [, m2] = macOffsets(msg);
    let any = 0;
    for (let i = m2; i < msg.length; i++) any |= msg[i];
    if (any === 0) return false;
    const mac = this.c.mac(this.cookieFor(source), msg.subarray(0, m2));
    return constantTimeEqual(mac, msg.subarray(m2));
  }

  /** Cookie reply to `msg` (whose sender index is `receiver`), or null without keys. */
  createReply(
    msg: Uint8Array,
    receiver: number,
    source: Uint8Array,
    now: number,
    random: (n: number) => Uint8Array,
  ): Uint8Array | null {
    if (this.cookieKey === null) return null;
    if (this.secretSet === null || now - this.secretSet > COOKIE_REFRESH_TIME) {
      this.secret = random(KEY_SIZE);
      this.secretSet = now;
      this.memo = null;
    }
    const [m1, m2] = macOffsets(msg);
    const nonce = random(COOKIE_NONCE_SIZE);
    return encodeCookieReply({
      receiver,
      nonce,
      encryptedCookie: this.c.xseal(
        this.cookieKey,
        nonce,
        this.cookieFor(source),
        msg.subarray(m1, m2),
      ),
    });
  }

  /**
   * MAC(secret, source), remembered for the last source so that a failed mac2 check and the
   * cookie reply that follows it compute it once.
   */
  private cookieFor(source: Uint8Array): Uint8Array {
    const m = this.memo;
    if (m !== null && constantTimeEqual(m.source, source)) return m.cookie;
    const cookie = this.c.mac(this.secret, source);
    this.memo = { source: source.slice(), cookie };
    return cookie;
  }
}

/** Initiator side (per peer): adds mac1/mac2 to outgoing handshake messages, stores cookies. */
export class CookieGenerator {
  private mac1Key: Uint8Array;
  private cookieKey: Uint8Array;
  private cookie: Uint8Array = new Uint8Array(MAC_SIZE);
  /** Monotonic ms at which `cookie` was received; null when none. */
  private cookieSet: number | null = null;
  private lastMac1: Uint8Array | null = null;

  constructor(
    private readonly c: CryptoProvider,
    peerPublicKey: Uint8Array,
  ) {
    this.mac1Key = c.hash(LABEL_MAC1, peerPublicKey);
    this.cookieKey = c.hash(LABEL_COOKIE, peerPublicKey);
  }

  /** Writes mac1 and (with a cookie younger than 120 − 5 s, as the kernel) mac2 in place. */
  addMacs(msg: Uint8Array, now: number): void {
    const [m1, m2] = macOffsets(msg);
    const mac1 = this.c.mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1 = mac1;
    if (
      this.cookieSet === null ||
      now - this.cookieSet >= COOKIE_REFRESH_TIME - COOKIE_SECRET_LATENCY
    ) {
      msg.fill(0, m2);
      return;
    }
    msg.set(this.c.mac(this.cookie, msg.subarray(0, m2)), m2);
  }

  /** Decrypts a cookie reply to our last message; false if it does not authenticate. */
  consumeReply(nonce: Uint8Array, encryptedCookie: Uint8Array, now: number): boolean {
    if (this.lastMac1 === null) return false;
    const cookie = this.c.xopen(this.cookieKey, nonce, encryptedCookie, this.lastMac1);
    if (cookie === null || cookie.length !== MAC_SIZE) return false;
    this.cookie = cookie;
    this.cookieSet = now;
    // One reply per message: a second reply with the same aad would be a replay.
    this.lastMac1 = null;
    return true;
  }
}
