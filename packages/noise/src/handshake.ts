/**
 * Noise_IKpsk2 exactly as WireGuard runs it (whitepaper §5.4.2–§5.4.4), as pure functions over
 * explicit state so that the same code path serves the Engine (prologue = IDENTIFIER, payloads
 * TAI64N and ε) and the cacophony vector (prologue "John Galt", arbitrary payloads; reference §3).
 *
 *   IK:  <- s
 *        ...
 *        -> e, es, s, ss        (initiation)
 *        <- e, ee, se, psk      (response)
 *
 * In psk modes Noise mixes every ephemeral public key into the chaining key as well as the hash,
 * which is WireGuard's `C = KDF1(C, E_pub)`. AEAD nonces in the handshake are always 0.
 */
import { AEAD_TAG_SIZE, CONSTRUCTION, IDENTIFIER, KEY_SIZE, TAI64N_SIZE } from "./constants.js";
import { kdf1, kdf2, kdf3 } from "./crypto/kdf.js";
import type { CryptoProvider } from "./crypto/provider.js";

const EMPTY = new Uint8Array(0);

/** Chaining key and hash after the protocol name and the prologue (Noise §5.2 InitializeSymmetric). */
export interface Protocol {
  readonly chainKey: Uint8Array;
  readonly hash: Uint8Array;
}

/**
 * Initial symmetric state: h = name padded to 32 bytes if it fits, else HASH(name); ck = h;
 * h = HASH(h ‖ prologue). For WireGuard: ck = HASH(CONSTRUCTION), h = HASH(ck ‖ IDENTIFIER).
 */
export function noiseProtocol(c: CryptoProvider, name: Uint8Array, prologue: Uint8Array): Protocol {
  let h: Uint8Array;
  if (name.length <= KEY_SIZE) {
    h = new Uint8Array(KEY_SIZE);
    h.set(name);
  } else {
    h = c.hash(name);
  }
  return { chainKey: h.slice(), hash: c.hash(h, prologue) };
}

/** WireGuard's initial chaining key and hash (whitepaper §5.4.2). */
export function wireguardProtocol(c: CryptoProvider): Protocol {
  return noiseProtocol(c, CONSTRUCTION, IDENTIFIER);
}

function seal(
  c: CryptoProvider,
  key: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_SIZE);
  c.seal(key, 0n, plaintext, ad, out, 0);
  return out;
}

function open(
  c: CryptoProvider,
  key: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Uint8Array | null {
  if (ciphertext.length < AEAD_TAG_SIZE) return null;
  const out = new Uint8Array(ciphertext.length - AEAD_TAG_SIZE);
  return c.open(key, 0n, ciphertext, ad, out, 0) < 0 ? null : out;
}

function wipe(...keys: Uint8Array[]): void {
  for (const k of keys) k.fill(0);
}

/**
 * Noise MixKey(DH(private, public)) as WireGuard does it (whitepaper §5.4.3: C := KDF1(C, DH(…))):
 * returns the next chaining key and wipes the old one and the DH output; null when the DH output
 * is all zero (a low-order public key).
 */
function mixDh(
  c: CryptoProvider,
  chainKey: Uint8Array,
  privateKey: Uint8Array,
  publicKey: Uint8Array,
): Uint8Array | null {
  const dh = c.x25519(privateKey, publicKey);
  if (dh === null) {
    wipe(chainKey);
    return null;
  }
  const [next] = kdf1(c, chainKey, dh);
  wipe(chainKey, dh);
  return next;
}

/** What the initiator keeps between its initiation and the response. */
export interface InitiatorState {
  chainKey: Uint8Array;
  hash: Uint8Array;
  ephemeralPrivate: Uint8Array;
}

export interface CreatedInitiation {
  readonly ephemeral: Uint8Array;
  /** AEAD(S_pub_i): 48 bytes. */
  readonly encryptedStatic: Uint8Array;
  /** AEAD(payload): payload + 16 bytes (28 for WireGuard's TAI64N). */
  readonly encryptedPayload: Uint8Array;
  readonly state: InitiatorState;
}

/**
 * Initiator, message 1 (whitepaper §5.4.2). `staticStatic` is DH(S_priv_i, S_pub_r), which the
 * Engine precomputes per peer. Returns null if a DH result is all zero.
 */
export function createInitiation(
  c: CryptoProvider,
  proto: Protocol,
  staticPublic: Uint8Array,
  remoteStatic: Uint8Array,
  staticStatic: Uint8Array | null,
  ephemeralPrivate: Uint8Array,
  payload: Uint8Array,
): CreatedInitiation | null {
  if (staticStatic === null) return null;
  // Pre-message: the responder's static key is known (IK).
  let h = c.hash(proto.hash, remoteStatic);
  const ephemeral = c.x25519PublicKey(ephemeralPrivate);
  let [ck] = kdf1(c, proto.chainKey, ephemeral);
  h = c.hash(h, ephemeral);
  // es
  const es = c.x25519(ephemeralPrivate, remoteStatic);
  if (es === null) {
    wipe(ck);
    return null;
  }
  let [ck2, k] = kdf2(c, ck, es);
  wipe(ck, es);
  const encryptedStatic = seal(c, k, staticPublic, h);
  wipe(k);
  h = c.hash(h, encryptedStatic);
  // ss
  [ck, k] = kdf2(c, ck2, staticStatic);
  wipe(ck2);
  const encryptedPayload = seal(c, k, payload, h);
  wipe(k);
  h = c.hash(h, encryptedPayload);
  return {
    ephemeral,
    encryptedStatic,
    encryptedPayload,
    state: { chainKey: ck, hash: h, ephemeralPrivate: ephemeralPrivate.slice() },
  };
}

/** What the responder learns from a valid initiation. */
export interface ConsumedInitiation {
  readonly remoteStatic: Uint8Array;
  readonly remoteEphemeral: Uint8Array;
  readonly payload: Uint8Array;
  readonly chainKey: Uint8Array;
  readonly hash: Uint8Array;
}

/** Why an initiation was refused before the caller's policy checks. */
export type ConsumeInitiationFailure =
  | "decrypt-static"
  | "unknown-peer"
  | "decrypt-payload"
  | "bad-dh";

/**
 * Responder, message 1 (whitepaper §5.4.2). `staticStatic(remoteStatic)` returns the precomputed
 * DH(S_priv_r, S_pub_i) of a known peer, or undefined for an unknown key.
 */
export function consumeInitiation(
  c: CryptoProvider,
  proto: Protocol,
  staticPrivate: Uint8Array,
  staticPublic: Uint8Array,
  ephemeral: Uint8Array,
  encryptedStatic: Uint8Array,
  encryptedPayload: Uint8Array,
  staticStatic: (remoteStatic: Uint8Array) => Uint8Array | null | undefined,
): ConsumedInitiation | ConsumeInitiationFailure {
  let h = c.hash(proto.hash, staticPublic);
  let [ck] = kdf1(c, proto.chainKey, ephemeral);
  h = c.hash(h, ephemeral);
  const es = c.x25519(staticPrivate, ephemeral);
  if (es === null) {
    wipe(ck);
    return "bad-dh";
  }
  let [ck2, k] = kdf2(c, ck, es);
  wipe(ck, es);
  const remoteStatic = open(c, k, encryptedStatic, h);
  wipe(k);
  // Every failure below wipes the chaining key it held (issue #13: key material on failure paths).
  if (remoteStatic === null || remoteStatic.length !== KEY_SIZE) {
    wipe(ck2);
    return "decrypt-static";
  }
  h = c.hash(h, encryptedStatic);
  const ss = staticStatic(remoteStatic);
  if (ss == null) {
    wipe(ck2);
    return ss === undefined ? "unknown-peer" : "bad-dh";
  }
  [ck, k] = kdf2(c, ck2, ss);
  wipe(ck2);
  const payload = open(c, k, encryptedPayload, h);
  wipe(k);
  if (payload === null) {
    wipe(ck);
    return "decrypt-payload";
  }
  h = c.hash(h, encryptedPayload);
  return { remoteStatic, remoteEphemeral: ephemeral.slice(), payload, chainKey: ck, hash: h };
}

export interface CreatedResponse {
  readonly ephemeral: Uint8Array;
  /** AEAD(payload): 16 bytes for WireGuard's empty payload. */
  readonly encryptedPayload: Uint8Array;
  readonly chainKey: Uint8Array;
  readonly hash: Uint8Array;
}

/** Responder, message 2 (whitepaper §5.4.3). `psk` is 32 zero bytes when none is configured. */
export function createResponse(
  c: CryptoProvider,
  st: {
    chainKey: Uint8Array;
    hash: Uint8Array;
    remoteEphemeral: Uint8Array;
    remoteStatic: Uint8Array;
  },
  ephemeralPrivate: Uint8Array,
  psk: Uint8Array,
  payload: Uint8Array,
): CreatedResponse | null {
  const ephemeral = c.x25519PublicKey(ephemeralPrivate);
  let h = c.hash(st.hash, ephemeral);
  const [ck1] = kdf1(c, st.chainKey, ephemeral);
  // ee, se
  const ck2 = mixDh(c, ck1, ephemeralPrivate, st.remoteEphemeral);
  const ck = ck2 && mixDh(c, ck2, ephemeralPrivate, st.remoteStatic);
  if (ck === null) return null;
  // psk
  const [ck3, tau, k] = kdf3(c, ck, psk);
  wipe(ck);
  h = c.hash(h, tau);
  wipe(tau);
  const encryptedPayload = seal(c, k, payload, h);
  wipe(k);
  h = c.hash(h, encryptedPayload);
  return { ephemeral, encryptedPayload, chainKey: ck3, hash: h };
}

export interface ConsumedResponse {
  readonly payload: Uint8Array;
  readonly chainKey: Uint8Array;
  readonly hash: Uint8Array;
}

/** Initiator, message 2 (whitepaper §5.4.3). Returns null when any check fails. */
export function consumeResponse(
  c: CryptoProvider,
  st: InitiatorState,
  staticPrivate: Uint8Array,
  ephemeral: Uint8Array,
  encryptedPayload: Uint8Array,
  psk: Uint8Array,
): ConsumedResponse | null {
  let h = c.hash(st.hash, ephemeral);
  const [ck1] = kdf1(c, st.chainKey, ephemeral);
  // ee, se
  const ck2 = mixDh(c, ck1, st.ephemeralPrivate, ephemeral);
  const ck = ck2 && mixDh(c, ck2, staticPrivate, ephemeral);
  if (ck === null) return null;
  const [ck3, tau, k] = kdf3(c, ck, psk);
  wipe(ck);
  h = c.hash(h, tau);
  wipe(tau);
  const payload = open(c, k, encryptedPayload, h);
  wipe(k);
  if (payload === null) {
    wipe(ck3);
    return null;
  }
  h = c.hash(h, encryptedPayload);
  return { payload, chainKey: ck3, hash: h };
}

/**
 * Transport keys (whitepaper §5.4.5, Noise Split): (T_i→r, T_r→i) = KDF2(C, ε). The initiator
 * sends with the first and receives with the second; the responder the other way round.
 */
export function deriveTransportKeys(
  c: CryptoProvider,
  chainKey: Uint8Array,
): [Uint8Array, Uint8Array] {
  return kdf2(c, chainKey, EMPTY);
}

/** Per-peer handshake progress (wireguard-go's handshakeState). */
export type HandshakeState =
  | "zeroed"
  | "initiation-created"
  | "initiation-consumed"
  | "response-created"
  | "response-consumed";

/**
 * The per-peer handshake record: the Noise state in flight plus the anti-replay data that
 * outlives it (the greatest accepted TAI64N and the time of the last accepted initiation).
 */
export class Handshake {
  state: HandshakeState = "zeroed";
  chainKey: Uint8Array = new Uint8Array(KEY_SIZE);
  hash: Uint8Array = new Uint8Array(KEY_SIZE);
  localEphemeral: Uint8Array = new Uint8Array(KEY_SIZE);
  remoteEphemeral: Uint8Array = new Uint8Array(KEY_SIZE);
  /** Our index for this handshake in the index table (0 = none). */
  localIndex = 0;
  remoteIndex = 0;
  /** 32 zero bytes when no preshared key is set (whitepaper §5.2). */
  presharedKey: Uint8Array = new Uint8Array(KEY_SIZE);
  /** DH(S_priv_local, S_pub_remote), recomputed when the private key changes; null if unusable. */
  precomputedStaticStatic: Uint8Array | null = null;
  /** Greatest TAI64N accepted from this peer; a new one must be strictly greater (§5.1). */
  lastTimestamp: Uint8Array = new Uint8Array(TAI64N_SIZE);
  /** Monotonic ms of the last accepted initiation (flood limit), null if none. */
  lastInitiationConsumed: number | null = null;
  /** Monotonic ms of the last initiation or response we sent, null if none. */
  lastSentHandshake: number | null = null;

  constructor(readonly remoteStatic: Uint8Array) {}

  /** Forgets the in-flight Noise state (keys zeroed); the caller frees `localIndex`. */
  clear(): void {
    wipe(this.chainKey, this.hash, this.localEphemeral, this.remoteEphemeral);
    this.localIndex = 0;
    this.remoteIndex = 0;
    this.state = "zeroed";
  }
}
