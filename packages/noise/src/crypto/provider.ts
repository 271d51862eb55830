/**
 * The crypto a WireGuard implementation needs, behind one small interface (whitepaper §5.4).
 *
 * Providers: `portable` (@noble/*, any JavaScript runtime) and `node` (node:crypto, plus
 * libsodium through sodium-native where installed). Every provider passes the same vectors.
 * All inputs and outputs are Uint8Array; a provider never retains the caller's buffers.
 */
export interface CryptoProvider {
  /** Name for logs and benchmarks, e.g. "portable" or "node+sodium". */
  readonly name: string;

  /** X25519 public key of a 32-byte private key (RFC 7748 §5, clamped). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519 shared secret (RFC 7748 §6.1). Returns null when the result is all zero (a
   * low-order peer key), which WireGuard must treat as a failed handshake.
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;

  /**
   * ChaCha20-Poly1305 seal (RFC 8439 §2.8) with WireGuard's 96-bit nonce: 4 zero bytes then
   * `counter` as u64 little-endian. Writes ciphertext‖tag (plaintext.length + 16 bytes) into
   * `out` at `outOffset` and returns the number of bytes written. The output may occupy exactly
   * the plaintext's bytes (in place) but must not otherwise overlap them. Throws RangeError for a
   * counter outside u64.
   */
  seal(
    key: Uint8Array,
    counter: bigint,
    plaintext: Uint8Array,
    aad: Uint8Array | null,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /**
   * ChaCha20-Poly1305 open. Writes the plaintext (ciphertext.length − 16 bytes) into `out` at
   * `outOffset`; returns its length, or -1 when authentication fails (nothing is written then
   * that the caller may use; a provider may zero the output range). Same overlap rule as `seal`.
   */
  open(
    key: Uint8Array,
    counter: bigint,
    ciphertext: Uint8Array,
    aad: Uint8Array | null,
    out: Uint8Array,
    outOffset: number,
  ): number;

  /** XChaCha20-Poly1305 seal (draft-irtf-cfrg-xchacha-03), 24-byte nonce; used by cookie replies. */
  xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** XChaCha20-Poly1305 open; null when authentication fails. */
  xopen(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null;

  /** BLAKE2s-256 of the concatenation of `parts` (RFC 7693), WireGuard's HASH. */
  hash(...parts: Uint8Array[]): Uint8Array;
  /** Keyed BLAKE2s with 16-byte output (RFC 7693 keyed mode), WireGuard's MAC (mac1, mac2, cookie). */
  mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /** HMAC-BLAKE2s-256 (RFC 2104 with BLAKE2s, 64-byte block), the base of WireGuard's KDF. */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;

  /** Cryptographically secure random bytes. */
  randomBytes(length: number): Uint8Array;
}
