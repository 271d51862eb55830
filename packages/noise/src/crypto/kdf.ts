/**
 * WireGuard's KDF (whitepaper §5.4): HKDF (RFC 5869) with HMAC-BLAKE2s, returning 1, 2 or 3
 * 32-byte outputs.
 *
 *   τ0 = HMAC(key, input)
 *   τ1 = HMAC(τ0, 0x1)
 *   τ2 = HMAC(τ0, τ1 ‖ 0x2)
 *   τ3 = HMAC(τ0, τ2 ‖ 0x3)
 *
 * `key` is the chaining key (HKDF's salt) and `input` the input key material.
 */
import type { CryptoProvider } from "./provider.js";

const ONE = Uint8Array.of(0x1);
const TWO = Uint8Array.of(0x2);
const THREE = Uint8Array.of(0x3);

/** KDF1: one output (whitepaper §5.4). */
export function kdf1(c: CryptoProvider, key: Uint8Array, input: Uint8Array): [Uint8Array] {
  const t0 = c.hmac(key, input);
  const t1 = c.hmac(t0, ONE);
  t0.fill(0);
  return [t1];
}

/** KDF2: two outputs (whitepaper §5.4). */
export function kdf2(
  c: CryptoProvider,
  key: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array] {
  const t0 = c.hmac(key, input);
  const t1 = c.hmac(t0, ONE);
  const t2 = c.hmac(t0, t1, TWO);
  t0.fill(0);
  return [t1, t2];
}

/** KDF3: three outputs (whitepaper §5.4). */
export function kdf3(
  c: CryptoProvider,
  key: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = c.hmac(key, input);
  const t1 = c.hmac(t0, ONE);
  const t2 = c.hmac(t0, t1, TWO);
  const t3 = c.hmac(t0, t2, THREE);
  t0.fill(0);
  return [t1, t2, t3];
}
