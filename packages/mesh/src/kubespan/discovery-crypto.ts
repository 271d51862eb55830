/**
 * Client-side encryption of the discovery service payloads, wire compatible with Talos's
 * discovery client (reference/kubespan.md §2.2, §2.3). The service only ever sees these blobs.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** GCM nonce and tag sizes of the affiliate blob (§2.2). */
export const AffiliateNonceSize = 12;
export const AffiliateTagSize = 16;
const AesBlockSize = 16;

/**
 * The AES-256 key: the base64 (standard alphabet) cluster secret, decoded (§2.1). Throws a clear
 * error when the secret is not base64 of exactly 32 bytes.
 */
export function clusterSecretKey(secret: string): Uint8Array {
  if (typeof secret !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(secret) || secret.length % 4) {
    throw new Error("cluster secret must be standard base64");
  }
  const key = Buffer.from(secret, "base64");
  if (key.length !== 32)
    throw new Error(`cluster secret must decode to 32 bytes, got ${key.length}`);
  return new Uint8Array(key);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw new Error("discovery key must be 32 bytes (AES-256)");
}

/**
 * Seals affiliate data: `nonce (12 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16)`, no
 * associated data (§2.2). Each call uses a fresh nonce, so equal plaintexts differ.
 */
export function sealAffiliateData(
  key: Uint8Array,
  plaintext: Uint8Array,
  nonce: Uint8Array = randomBytes(AffiliateNonceSize),
): Uint8Array {
  checkKey(key);
  if (nonce.length !== AffiliateNonceSize) throw new Error("nonce must be 12 bytes");
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const out = new Uint8Array(AffiliateNonceSize + body.length + AffiliateTagSize);
  out.set(nonce, 0);
  out.set(body, AffiliateNonceSize);
  out.set(cipher.getAuthTag(), AffiliateNonceSize + body.length);
  return out;
}

/** Opens an affiliate blob; null when it is too short or fails authentication (§2.2). */
export function openAffiliateData(key: Uint8Array, blob: Uint8Array): Uint8Array | null {
  checkKey(key);
  if (blob.length < AffiliateNonceSize + AffiliateTagSize) return null;
  const nonce = blob.subarray(0, AffiliateNonceSize);
  const tag = blob.subarray(blob.length - AffiliateTagSize);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAuthTag(tag);
    const body = blob.subarray(AffiliateNonceSize, blob.length - AffiliateTagSize);
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch {
    return null;
  }
}

/**
 * Encrypts an endpoint message deterministically (§2.3): one length byte, the message, zero
 * padding to a multiple of 16, each block AES-256 encrypted on its own (ECB). Equal endpoints give
 * equal ciphertexts so the service can deduplicate endpoints reported by different nodes.
 */
export function sealEndpoint(key: Uint8Array, message: Uint8Array): Uint8Array {
  checkKey(key);
  if (message.length > 255) throw new Error("endpoint message longer than 255 bytes");
  const padded = new Uint8Array(Math.ceil((message.length + 1) / AesBlockSize) * AesBlockSize);
  padded[0] = message.length;
  padded.set(message, 1);
  const cipher = createCipheriv("aes-256-ecb", key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(padded), cipher.final()]));
}

/**
 * Decrypts an endpoint blob to the endpoint message; null when its length is not a non-zero
 * multiple of 16 or the length byte points past the end (§2.3). There is no integrity check:
 * garbage decrypts to garbage that then fails to parse.
 */
export function openEndpoint(key: Uint8Array, blob: Uint8Array): Uint8Array | null {
  checkKey(key);
  if (blob.length === 0 || blob.length % AesBlockSize !== 0) return null;
  const decipher = createDecipheriv("aes-256-ecb", key, null);
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(blob), decipher.final()]);
  const size = plain[0];
  if (size > plain.length - 1) return null;
  return new Uint8Array(plain.subarray(1, 1 + size));
}
