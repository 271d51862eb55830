/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) for cookie replies (whitepaper §5.4.7), from
 * @noble/ciphers. Its own file so that the node provider, which needs only this from noble, does
 * not load portable.ts and with it @noble/curves (whose ed25519 module builds its tables at
 * import: ~11 MB of a daemon's idle RSS, bench/RESULTS.md "Idle RSS and start-up").
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { CryptoProvider } from "./provider.js";

/** Poly1305 tag length (RFC 8439 §2.8). */
const TAG_LENGTH = 16;

export const xseal: CryptoProvider["xseal"] = (key, nonce, plaintext, aad) =>
  xchacha20poly1305(key, nonce, aad).encrypt(plaintext);

export const xopen: CryptoProvider["xopen"] = (key, nonce, ciphertext, aad) => {
  if (ciphertext.length < TAG_LENGTH) return null;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
  } catch {
    return null;
  }
};
