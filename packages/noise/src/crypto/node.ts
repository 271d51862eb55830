/**
 * Node.js crypto provider: node:crypto (OpenSSL) plus libsodium through the optional
 * sodium-native addon. The only file of packages/noise allowed to import `node:` modules.
 *
 * Each primitive uses whichever backend measured fastest (Node 20.20, 1 core of the project's
 * 2-core machine, ops/s; the same numbers drove the choices below):
 *
 *   primitive                         sodium-native   node:crypto             noble (portable)
 *   ChaCha20-Poly1305 seal, 1420 B       708,000      160,000 (Cipheriv)        60,000
 *   ChaCha20-Poly1305 open, 1420 B       690,000      186,000 (Decipheriv)         —
 *   X25519 shared secret                  31,500       15,100 (JWK import)       1,190
 *                                                       2,100 (DER import)
 *   X25519 public key                     85,000       29,000 (JWK import)       3,650
 *   XChaCha20-Poly1305 seal, 32 B      1,880,000            — (absent)         100,000
 *
 * BLAKE2s (libsodium's generichash is BLAKE2b, so no sodium column), µs per call, medians of
 * side-by-side runs on the same machine (bench/RESULTS.md "Handshake crypto"):
 *
 *   primitive                      node:crypto objects   @noble/hashes   ./blake2s.ts
 *   HASH, BLAKE2s-256 of 2×32 B           1.23               2.38            0.44
 *   HMAC-BLAKE2s, 32 B key, 32 B          2.65               7.79            1.32
 *   MAC, keyed BLAKE2s-128 of 116 B          — (absent)      5.70            0.87
 *
 * bench/micro/crypto.ts (benchmark.js, 1 / median sample time, same machine), whole providers:
 *   "node+sodium": seal 1420 B 660,000/s, open 694,000/s, X25519 30,700/s
 *   "node":        seal 1420 B 166,000/s, open 155,000/s, X25519 10,700/s
 *   "portable":    seal 1420 B  54,800/s, open  51,300/s, X25519  1,140/s
 * With sodium-native ("node+sodium"): sodium for X25519 and both AEADs. Without it ("node"):
 * node:crypto for X25519 and ChaCha20-Poly1305, noble for XChaCha20-Poly1305 (cookie replies
 * only). Both: ./blake2s.ts for HASH, MAC and HMAC.
 *
 * @module @wirespan/noise/crypto/node
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomFillSync,
} from "node:crypto";
import { createRequire } from "node:module";
import { blake2s, blake2sKeyed, hmacBlake2s } from "./blake2s.js";
import { checkLength, isAllZero } from "./checks.js";
import type { CryptoProvider } from "./provider.js";
import { xopen, xseal } from "./xchacha.js";

/** Poly1305 tag length (RFC 8439 §2.8). */
const TAG_LENGTH = 16;
/** WireGuard's MAC: keyed BLAKE2s truncated to 128 bits (whitepaper §5.4). */
const MAC_LENGTH = 16;
/** X25519 key length (RFC 7748 §5). */
const KEY_LENGTH = 32;
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** The slice of sodium-native's API this provider uses (libsodium names and argument order). */
interface Sodium {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

function loadSodium(): Sodium | null {
  try {
    return createRequire(import.meta.url)("sodium-native") as Sodium;
  } catch {
    // Optional dependency (no prebuilt binary for this platform, or not installed).
    return null;
  }
}

/** Cached so that every provider instance shares one addon load attempt. */
let sodiumModule: Sodium | null | undefined;
function sodiumOrNull(): Sodium | null {
  if (sodiumModule === undefined) sodiumModule = loadSodium();
  return sodiumModule;
}

/** A Buffer returned by node:crypto, seen as a plain Uint8Array (no copy). */
function plain(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
}

/**
 * X25519 private keys enter node:crypto as JWK: measured 10× faster than PKCS#8 DER, whose import
 * derives the public key with a full scalar multiplication. OpenSSL builds the key from `d` alone
 * (EVP_PKEY_new_raw_private_key) and Node only checks that `x` is a string, so `x` carries a
 * placeholder. `jwkImportWorks` checks that behaviour once against RFC 7748 §6.1 and, should a
 * future Node validate `x`, the provider falls back to DER.
 */
const JWK_PLACEHOLDER_X = b64url(new Uint8Array(KEY_LENGTH));
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

function privateKeyJwk(raw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: "OKP", crv: "X25519", d: b64url(raw), x: JWK_PLACEHOLDER_X },
    format: "jwk",
  });
}

function privateKeyDer(raw: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: "der",
    type: "pkcs8",
  });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(raw) }, format: "jwk" });
}

function publicKeyRaw(key: KeyObject): Uint8Array {
  const x = createPublicKey(key).export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("node:crypto exported no X25519 public key");
  return plain(Buffer.from(x, "base64url"));
}

let privateKeyObject: (raw: Uint8Array) => KeyObject = privateKeyJwk;
function jwkImportWorks(): boolean {
  // RFC 7748 §6.1: Alice's private key and public key.
  const alicePrivate = Buffer.from(
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    "hex",
  );
  const alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  try {
    return Buffer.from(publicKeyRaw(privateKeyJwk(alicePrivate))).toString("hex") === alicePublic;
  } catch {
    return false;
  }
}
if (!jwkImportWorks()) privateKeyObject = privateKeyDer;

/**
 * randomFillSync costs about as much for 2 bytes as for 4 KiB (argument checks and a call into
 * OpenSSL), and a handshake asks for five small values (ephemeral key, sender index, timer
 * jitter). Requests up to RANDOM_POOL_MAX bytes are therefore cut from a pool filled
 * RANDOM_POOL_SIZE bytes at a time (as Node's own randomUUID does); served bytes are zeroed in the
 * pool at once, so no value is handed out twice or stays behind. Synchronous, hence one shared
 * pool per thread (worker threads load their own copy of this module).
 */
const RANDOM_POOL_SIZE = 4096;
const RANDOM_POOL_MAX = 256;
const randomPool = new Uint8Array(RANDOM_POOL_SIZE);
let randomPoolAt = RANDOM_POOL_SIZE;

function randomBytes(length: number): Uint8Array {
  if (length > RANDOM_POOL_MAX) return randomFillSync(new Uint8Array(length));
  if (randomPoolAt + length > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  const end = randomPoolAt + length;
  const out = randomPool.slice(randomPoolAt, end);
  randomPool.fill(0, randomPoolAt, end);
  randomPoolAt = end;
  return out;
}

/** Options for {@link createNodeCrypto}. */
export interface NodeCryptoOptions {
  /** Use sodium-native when it loads (default true); false forces the pure node:crypto paths. */
  sodium?: boolean;
}

/**
 * Builds a node provider. `nodeCrypto` is the default one; the factory exists so tests and
 * benchmarks can compare the node:crypto-only paths with the sodium ones on the same machine.
 */
export function createNodeCrypto(options: NodeCryptoOptions = {}): CryptoProvider {
  const sodium = options.sodium === false ? null : sodiumOrNull();

  // One nonce buffer per provider, rewritten on every seal/open: the AEAD calls below are
  // synchronous and consume it before returning, so no call can observe another's nonce.
  // WireGuard's nonce (whitepaper §5.4.6): 4 zero bytes, then the counter as u64 little-endian.
  const nonce = new Uint8Array(12);
  const nonceView = new DataView(nonce.buffer);
  const setNonce = (counter: bigint): void => {
    if (counter < 0n || counter > MAX_COUNTER) {
      throw new RangeError("AEAD counter must be an unsigned 64-bit integer");
    }
    nonceView.setBigUint64(4, counter, true);
  };

  // BLAKE2s family: ./blake2s.ts beats node:crypto's per-call hash objects (see the table above).
  const hash = (...parts: Uint8Array[]): Uint8Array => blake2s(parts);
  const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => hmacBlake2s(key, parts);
  const mac = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array =>
    blake2sKeyed(key, parts, MAC_LENGTH);

  if (sodium !== null) {
    return {
      name: "node+sodium",

      x25519PublicKey(privateKey) {
        checkLength("private key", privateKey, KEY_LENGTH);
        const pub = new Uint8Array(KEY_LENGTH);
        sodium.crypto_scalarmult_base(pub, privateKey);
        return pub;
      },

      x25519(privateKey, publicKey) {
        checkLength("private key", privateKey, KEY_LENGTH);
        if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_LENGTH) return null;
        const shared = new Uint8Array(KEY_LENGTH);
        try {
          // libsodium refuses low-order points and an all-zero result (RFC 7748 §6.1) by failing,
          // which sodium-native turns into an exception.
          sodium.crypto_scalarmult(shared, privateKey, publicKey);
        } catch {
          return null;
        }
        return isAllZero(shared) ? null : shared;
      },

      seal(key, counter, plaintext, aad, out, outOffset) {
        setNonce(counter);
        const length = plaintext.length + TAG_LENGTH;
        // Non-detached: libsodium writes ciphertext‖tag straight into the caller's buffer.
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
          out.subarray(outOffset, outOffset + length),
          plaintext,
          aad,
          null,
          nonce,
          key,
        );
        return length;
      },

      open(key, counter, ciphertext, aad, out, outOffset) {
        if (ciphertext.length < TAG_LENGTH) return -1;
        setNonce(counter);
        const length = ciphertext.length - TAG_LENGTH;
        try {
          // libsodium checks the tag before decrypting; on failure it zeroes the output area.
          sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
            out.subarray(outOffset, outOffset + length),
            null,
            ciphertext,
            aad,
            nonce,
            key,
          );
        } catch {
          return -1;
        }
        return length;
      },

      xseal(key, xnonce, plaintext, aad) {
        const sealed = new Uint8Array(plaintext.length + TAG_LENGTH);
        sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
          sealed,
          plaintext,
          aad,
          null,
          xnonce,
          key,
        );
        return sealed;
      },

      xopen(key, xnonce, ciphertext, aad) {
        if (ciphertext.length < TAG_LENGTH) return null;
        const opened = new Uint8Array(ciphertext.length - TAG_LENGTH);
        try {
          sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            opened,
            null,
            ciphertext,
            aad,
            xnonce,
            key,
          );
        } catch {
          return null;
        }
        return opened;
      },

      hash,
      mac,
      hmac,
      randomBytes,
    };
  }

  return {
    name: "node",

    x25519PublicKey(privateKey) {
      checkLength("private key", privateKey, KEY_LENGTH);
      return publicKeyRaw(privateKeyObject(privateKey));
    },

    x25519(privateKey, publicKey) {
      checkLength("private key", privateKey, KEY_LENGTH);
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_LENGTH) return null;
      let shared: Uint8Array;
      try {
        // OpenSSL fails the derivation when the result is all zero (low-order peer key).
        shared = plain(
          diffieHellman({
            privateKey: privateKeyObject(privateKey),
            publicKey: publicKeyObject(publicKey),
          }),
        );
      } catch {
        return null;
      }
      return isAllZero(shared) ? null : shared;
    },

    seal(key, counter, plaintext, aad, out, outOffset) {
      setNonce(counter);
      const cipher = createCipheriv("chacha20-poly1305", key, nonce, {
        authTagLength: TAG_LENGTH,
      });
      if (aad !== null) cipher.setAAD(aad, { plaintextLength: plaintext.length });
      // node:crypto has no "encrypt into this buffer": copy its output once.
      const body = cipher.update(plaintext);
      cipher.final();
      out.set(body, outOffset);
      out.set(cipher.getAuthTag(), outOffset + plaintext.length);
      return plaintext.length + TAG_LENGTH;
    },

    open(key, counter, ciphertext, aad, out, outOffset) {
      if (ciphertext.length < TAG_LENGTH) return -1;
      setNonce(counter);
      const length = ciphertext.length - TAG_LENGTH;
      const decipher = createDecipheriv("chacha20-poly1305", key, nonce, {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAuthTag(ciphertext.subarray(length));
      if (aad !== null) decipher.setAAD(aad, { plaintextLength: length });
      const body = decipher.update(ciphertext.subarray(0, length));
      try {
        decipher.final(); // Verifies the tag; only then is `body` copied out.
      } catch {
        body.fill(0);
        return -1;
      }
      out.set(body, outOffset);
      return length;
    },

    xseal,
    xopen,
    hash,
    mac,
    hmac,
    randomBytes,
  };
}

/** The default Node provider: "node+sodium" when sodium-native loads, else "node". */
export const nodeCrypto: CryptoProvider = createNodeCrypto();
