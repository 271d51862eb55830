/**
 * The crypto provider a Device uses unless told otherwise: Node's provider (libsodium where
 * installed) with the transport AEAD — the per-packet ChaCha20-Poly1305 — taken from the native
 * addon's OpenSSL where the addon loads (native/aead.cc): measured about 2× libsodium's per
 * 1420-byte packet on this project's machine (bench/RESULTS.md, "transport AEAD"), and
 * node:crypto cannot reach it because it builds a cipher object per nonce.
 * WIRESPAN_NATIVE_AEAD=0 keeps libsodium (before/after comparisons).
 */
import type { CryptoProvider } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { nativeAead } from "@wirespan/tun/internal";

let provider: CryptoProvider | undefined;

export function deviceCrypto(): CryptoProvider {
  if (provider !== undefined) return provider;
  const aead = process.env.WIRESPAN_NATIVE_AEAD === "0" ? null : nativeAead();
  provider =
    aead === null
      ? nodeCrypto
      : {
          ...nodeCrypto,
          name: `${nodeCrypto.name}+openssl-aead`,
          // The native functions themselves (they use no `this`): no JavaScript frame per packet.
          seal: aead.aeadSeal,
          open: aead.aeadOpen,
        };
  return provider;
}
