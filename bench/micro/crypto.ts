/**
 * Micro-benchmark: the crypto on WireGuard's hot path, per provider. ChaCha20-Poly1305 seal and
 * open of a 1420-byte packet (the default MTU's payload) written into a larger buffer at an
 * offset, as the engine does, and X25519 (two per handshake message). Target: the node provider
 * seals ≥ 70,000 packets/s of 1420 B on one core.
 * The handshake's BLAKE2s calls at WireGuard's sizes: HASH of 2 × 32 B (h = HASH(h ‖ e)), HMAC of
 * 33 B under a 32-byte key (KDF τ2 = HMAC(τ0, τ1 ‖ 0x2)) and MAC of 116 B (mac1 of an
 * initiation); targets HMAC ≤ 2 µs, MAC ≤ 3 µs. node:crypto's hash objects run alongside as the
 * reference the hand-written BLAKE2s (packages/noise/src/crypto/blake2s.ts) has to beat.
 * Run: node --conditions=@wirespan/source --import tsx bench/micro/crypto.ts
 * Reported ops/s: 1 / median of benchmark.js's per-op sample times (robust to GC pauses).
 */
import { createHash, createHmac } from "node:crypto";
import { pathToFileURL } from "node:url";
import Benchmark from "benchmark";
import { createNodeCrypto } from "../../packages/noise/src/crypto/node.js";
import { portableCrypto } from "../../packages/noise/src/crypto/portable.js";
import type { CryptoProvider } from "../../packages/noise/src/crypto/provider.js";
import { type BenchResult, printResults, runSuite } from "./suite.js";

const PACKET = 1420;
/** Room for WireGuard's 16-byte data header before the ciphertext. */
const OFFSET = 16;

function addProvider(suite: Benchmark.Suite, c: CryptoProvider): void {
  const key = c.randomBytes(32);
  const plaintext = c.randomBytes(PACKET);
  const out = new Uint8Array(OFFSET + PACKET + 16);
  const sealed = new Uint8Array(PACKET + 16);
  c.seal(key, 1n, plaintext, null, sealed, 0);
  const opened = new Uint8Array(OFFSET + PACKET);
  let counter = 0n;
  const priv = c.randomBytes(32);
  const peer = c.x25519PublicKey(c.randomBytes(32));

  suite.add(`${c.name}: seal ${PACKET} B`, () => {
    c.seal(key, counter++, plaintext, null, out, OFFSET);
  });
  suite.add(`${c.name}: open ${PACKET} B`, () => {
    if (c.open(key, 1n, sealed, null, opened, OFFSET) < 0) throw new Error("open failed");
  });
  suite.add(`${c.name}: X25519 shared secret`, () => {
    if (c.x25519(priv, peer) === null) throw new Error("x25519 failed");
  });

  const [a, b, m116] = [c.randomBytes(32), c.randomBytes(32), c.randomBytes(116)];
  const suffix = Uint8Array.of(2);
  suite.add(`${c.name}: HASH 2 × 32 B`, () => c.hash(a, b));
  suite.add(`${c.name}: HMAC 32 B key, 33 B`, () => c.hmac(key, a, suffix));
  suite.add(`${c.name}: MAC 116 B`, () => c.mac(key, m116));
}

/** node:crypto's per-call hash objects for the same BLAKE2s calls (the previous backend). */
function addNodeHashReference(suite: Benchmark.Suite): void {
  const bytes = (n: number): Buffer => Buffer.alloc(n, 7);
  const [key, a, b, suffix] = [bytes(32), bytes(32), bytes(32), Buffer.of(2)];
  suite.add("node:crypto createHash: HASH 2 × 32 B", () =>
    createHash("blake2s256").update(a).update(b).digest(),
  );
  suite.add("node:crypto createHmac: HMAC 32 B key, 33 B", () =>
    createHmac("blake2s256", key).update(a).update(suffix).digest(),
  );
}

export async function runCryptoBench(): Promise<BenchResult[]> {
  const suite = new Benchmark.Suite("crypto");
  const providers = [
    portableCrypto,
    createNodeCrypto(), // "node+sodium" where sodium-native loads
    createNodeCrypto({ sodium: false }), // node:crypto only (createCipheriv)
  ];
  const seen = new Set<string>();
  for (const c of providers) {
    if (seen.has(c.name)) continue; // sodium-native absent: both node providers are "node"
    seen.add(c.name);
    addProvider(suite, c);
  }
  addNodeHashReference(suite);
  return runSuite(suite, { maxTime: 2 });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const results = await runCryptoBench();
  printResults(results);
}
