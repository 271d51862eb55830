/**
 * WireGuard protocol constants under their whitepaper names (whitepaper §5.4, §6.1–§6.4; reference
 * §1.1–§1.3). Times are in milliseconds of the monotonic clock the Engine is given.
 */

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Noise protocol name, hashed into the initial chaining key (whitepaper §5.4). */
export const CONSTRUCTION = utf8("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
/** WireGuard identifier, mixed into the initial hash as the Noise prologue (whitepaper §5.4). */
export const IDENTIFIER = utf8("WireGuard v1 zx2c4 Jason@zx2c4.com");
/** Label of the mac1 key: HASH(LABEL_MAC1 ‖ Spub_responder) (whitepaper §5.4.4). */
export const LABEL_MAC1 = utf8("mac1----");
/** Label of the cookie-reply key: HASH(LABEL_COOKIE ‖ Spub) (whitepaper §5.4.7). */
export const LABEL_COOKIE = utf8("cookie--");

/** Send a new initiation once this many messages were sent with a keypair (whitepaper §6.1). */
export const REKEY_AFTER_MESSAGES = 1n << 60n;
/** Never send with, nor accept, a counter ≥ this: 2^64 − 2^13 − 1 (wireguard-go, reference §1.2). */
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;

/** Initiator re-handshakes on send once its keypair is this old (whitepaper §6.1). */
export const REKEY_AFTER_TIME = 120_000;
/** A keypair older than this is dead for sending and receiving (whitepaper §6.1). */
export const REJECT_AFTER_TIME = 180_000;
/** Stop retrying a handshake after this long (whitepaper §6.1). */
export const REKEY_ATTEMPT_TIME = 90_000;
/** Retransmit an unanswered initiation after this (plus jitter) (whitepaper §6.1). */
export const REKEY_TIMEOUT = 5_000;
/** Passive keepalive delay after receiving data and sending nothing (whitepaper §6.1). */
export const KEEPALIVE_TIMEOUT = 10_000;
/** Cookie secret lifetime and the lifetime of a received cookie (whitepaper §5.4.7, §6.1). */
export const COOKIE_REFRESH_TIME = 120_000;
/** Kernel `COOKIE_SECRET_LATENCY`: a received cookie is used only while younger than 120 − 5 s. */
export const COOKIE_SECRET_LATENCY = 5_000;
/** REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18 retries (reference §1.2). */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT;
/** Retransmission jitter is drawn from [0, REKEY_TIMEOUT_JITTER_MAX) ms (wireguard-go: 334). */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
/** Initiator receive-side rekey: REJECT_AFTER_TIME − KEEPALIVE_TIMEOUT − REKEY_TIMEOUT = 165 s. */
export const REKEY_ON_RECEIVE_AFTER_TIME = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
/** New handshake when data was sent and nothing came back for this long (+ jitter): 15 s. */
export const NEW_HANDSHAKE_TIMEOUT = KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
/** Zero all key material after this long without a new session: 3 × REJECT_AFTER_TIME. */
export const ZERO_KEY_MATERIAL_TIME = REJECT_AFTER_TIME * 3;
/** At most one initiation accepted per peer per this interval (kernel INITIATIONS_PER_SECOND 50). */
export const HANDSHAKE_INITIATION_RATE = 20;
/** A device stays "under load" this long after the last time it was detected (wireguard-go). */
export const UNDER_LOAD_AFTER_TIME = 1_000;
/** Default handshake messages per second above which the device is under load. */
export const DEFAULT_UNDER_LOAD_THRESHOLD = 128;

/** Packets staged per peer while no session exists; the oldest is dropped (reference §1.1). */
export const MAX_STAGED_PACKETS = 128;
/** Plaintext is padded to a multiple of this (whitepaper §5.4.6). */
export const MESSAGE_PADDING_MULTIPLE = 16;
/** wireguard-go DefaultMTU. */
export const DEFAULT_MTU = 1420;
/** Largest datagram the engine accepts ((1<<16)−1, wireguard-go MaxMessageSize). */
export const MAX_MESSAGE_SIZE = 65535;

/** Message types (whitepaper §5.4.2–§5.4.7), the first little-endian u32 of every message. */
export const MESSAGE_HANDSHAKE_INITIATION = 1;
export const MESSAGE_HANDSHAKE_RESPONSE = 2;
export const MESSAGE_HANDSHAKE_COOKIE = 3;
export const MESSAGE_TRANSPORT_DATA = 4;

/** Sizes of the fixed messages (reference §1.1). */
export const MESSAGE_INITIATION_SIZE = 148;
export const MESSAGE_RESPONSE_SIZE = 92;
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
/** Transport header: type, receiver index, counter. */
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
/** Poly1305 tag. */
export const AEAD_TAG_SIZE = 16;
/** Smallest transport message: header and tag of an empty plaintext (a keepalive). */
export const MESSAGE_TRANSPORT_MIN_SIZE = MESSAGE_TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE;
export const MESSAGE_KEEPALIVE_SIZE = MESSAGE_TRANSPORT_MIN_SIZE;

export const KEY_SIZE = 32;
export const MAC_SIZE = 16;
export const TAI64N_SIZE = 12;
export const COOKIE_NONCE_SIZE = 24;
