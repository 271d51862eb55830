/**
 * The addon's transport AEAD (native/aead.cc): ChaCha20-Poly1305 with WireGuard's nonce through
 * the OpenSSL inside Node, writing into the caller's buffer. @wirespan/mesh builds its default
 * crypto provider on it where the addon loads; elsewhere the provider keeps libsodium.
 */
import { loadAddon } from "./addon.js";

export interface NativeAead {
  /**
   * Seals `plaintext` (RFC 8439 §2.8; nonce = 4 zero bytes ‖ counter u64 LE) into `out` at
   * `outOffset` as ciphertext‖tag; returns plaintext.length + 16. In place is allowed.
   */
  aeadSeal(
    key: Uint8Array,
    counter: bigint,
    plaintext: Uint8Array,
    aad: Uint8Array | null,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /** Opens ciphertext‖tag into `out` at `outOffset`; the plaintext length, or -1 (zeroed). */
  aeadOpen(
    key: Uint8Array,
    counter: bigint,
    ciphertext: Uint8Array,
    aad: Uint8Array | null,
    out: Uint8Array,
    outOffset: number,
  ): number;
}

let aead: NativeAead | null | undefined;

/** The addon's AEAD, or null where the addon does not load (or predates it). */
export function nativeAead(): NativeAead | null {
  if (aead !== undefined) return aead;
  const m = loadAddon();
  aead =
    m.ok && typeof m.addon.aeadSeal === "function" && typeof m.addon.aeadOpen === "function"
      ? (m.addon as unknown as NativeAead)
      : null;
  return aead;
}
