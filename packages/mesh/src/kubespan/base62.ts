/**
 * Base62 text of random bytes, the form of Talos node IDs (reference/kubespan.md §2.1). The ID
 * is opaque to every party, so any stable base62 rendering of the bytes interoperates; this one
 * is the big-endian integer in digits 0-9, A-Z, a-z.
 */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function base62Encode(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  // Keep leading zero bytes visible so the length stays meaningful.
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out = `0${out}`;
  return out || "0";
}
