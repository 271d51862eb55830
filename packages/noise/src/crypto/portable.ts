/**
 * Portable crypto provider: pure JavaScript (@noble/*), runs in any runtime with
 * `globalThis.crypto.getRandomValues` (Node ≥ 20, Deno, Bun, browsers, workers).
 *
 * Primitives are the ones WireGuard fixes (whitepaper §5.4): X25519, ChaCha20-Poly1305 with the
 * Noise nonce layout, XChaCha20-Poly1305 for cookie replies, BLAKE2s-256 (HASH), keyed BLAKE2s
 * with 16-byte output (MAC) and HMAC-BLAKE2s (base of the KDF). The BLAKE2s family comes from
 * ./blake2s.ts, not noble: at WireGuard's input sizes it measured 4–8× faster per call
 * (bench/RESULTS.md "Handshake crypto").
 *
 * @module @wirespan/noise/crypto/portable
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { blake2s, blake2sKeyed, hmacBlake2s } from "./blake2s.js";
import { checkLength, isAllZero } from "./checks.js";
import type { CryptoProvider } from "./provider.js";
import { xopen, xseal } from "./xchacha.js";

/** Poly1305 tag length (RFC 8439 §2.8). */
const TAG_LENGTH = 16;
/** Length of WireGuard's MAC output: keyed BLAKE2s truncated to 128 bits (whitepaper §5.4). */
const MAC_LENGTH = 16;
/** X25519 key and shared-secret length (RFC 7748 §5). */
const KEY_LENGTH = 32;

/**
 * The 96-bit AEAD nonce WireGuard uses (whitepaper §5.4.6, Noise §5.1): 32 zero bits followed by
 * the 64-bit counter, little-endian. One scratch buffer, rewritten per call: noble borrows it only
 * for the synchronous encrypt/decrypt of a cipher object that is dropped right after.
 */
const nonceScratch = new Uint8Array(12);
const nonceView = new DataView(nonceScratch.buffer);
function wireguardNonce(counter: bigint): Uint8Array {
  if (counter < 0n || counter > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError("AEAD counter must be an unsigned 64-bit integer");
  }
  nonceView.setBigUint64(4, counter, true);
  return nonceScratch;
}

export const portableCrypto: CryptoProvider = {
  name: "portable",

  x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    checkLength("private key", privateKey, KEY_LENGTH);
    return x25519.getPublicKey(privateKey);
  },

  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
    checkLength("private key", privateKey, KEY_LENGTH);
    // A peer key of the wrong size is network input: treat it as a failed DH, not an exception.
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_LENGTH) return null;
    let shared: Uint8Array;
    try {
      // noble rejects the low-order u-coordinates up front (they are exactly the inputs whose
      // result would be all zero for a clamped scalar), by throwing.
      shared = x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      return null;
    }
    // RFC 7748 §6.1: an all-zero shared secret must be rejected; WireGuard fails the handshake.
    return isAllZero(shared) ? null : shared;
  },

  seal(key, counter, plaintext, aad, out, outOffset) {
    const length = plaintext.length + TAG_LENGTH;
    const cipher = chacha20poly1305(key, wireguardNonce(counter), aad ?? undefined);
    cipher.encrypt(plaintext, out.subarray(outOffset, outOffset + length));
    return length;
  },

  open(key, counter, ciphertext, aad, out, outOffset) {
    if (ciphertext.length < TAG_LENGTH) return -1;
    const length = ciphertext.length - TAG_LENGTH;
    const cipher = chacha20poly1305(key, wireguardNonce(counter), aad ?? undefined);
    try {
      // noble verifies the tag before writing anything into `out`.
      cipher.decrypt(ciphertext, out.subarray(outOffset, outOffset + length));
    } catch {
      return -1;
    }
    return length;
  },

  xseal,
  xopen,

  hash(...parts) {
    return blake2s(parts);
  },

  mac(key, ...parts) {
    // RFC 7693 keyed mode (not HMAC), digest length 16: WireGuard's MAC (whitepaper §5.4).
    return blake2sKeyed(key, parts, MAC_LENGTH);
  },

  hmac(key, ...parts) {
    return hmacBlake2s(key, parts);
  },

  randomBytes(length) {
    const bytes = new Uint8Array(length);
    // getRandomValues fills at most 65536 bytes per call (Web Crypto).
    for (let at = 0; at < length; at += 65536) {
      globalThis.crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
    }
    return bytes;
  },
};
