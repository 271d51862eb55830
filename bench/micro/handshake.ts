/**
 * Micro-benchmark: WireGuard handshakes through the Engine (node provider).
 *  - "complete handshake": initiator Engine and responder Engine in one process; each op is a
 *    full round (initiation → response → first transport packet that confirms the responder's
 *    keypair). The clock jumps past REJECT_AFTER_TIME each op so that the next packet has to
 *    start a new handshake. Target ≥ 1,800/s.
 *  - "initiation answered": a responder Engine consumes a (pre-built) initiation and produces
 *    its response. Target ≥ 3,500/s.
 * Both rely on the per-peer precomputed static-static DH.
 * Run: node --conditions=@wirespan/source --import tsx bench/micro/handshake.ts
 * Reported ops/s: 1 / median of benchmark.js's per-op sample times, after each op has run for
 * WARM_UP_MS unmeasured: V8 optimises hot code on a background thread, which a loaded machine
 * starves, and without the warm-up the first benchmark of a process measured 1,400–1,700
 * complete handshakes/s against 2,500–2,800 for the same code later in the process.
 */
import { pathToFileURL } from "node:url";
import Benchmark from "benchmark";
import type { Action } from "../../packages/noise/src/actions.js";
import { CookieGenerator } from "../../packages/noise/src/cookie.js";
import { nodeCrypto } from "../../packages/noise/src/crypto/node.js";
import type { CryptoProvider } from "../../packages/noise/src/crypto/provider.js";
import type { Endpoint } from "../../packages/noise/src/endpoint.js";
import { Engine } from "../../packages/noise/src/engine.js";
import { createInitiation, wireguardProtocol } from "../../packages/noise/src/handshake.js";
import { encodeInitiation } from "../../packages/noise/src/messages.js";
import { tai64n } from "../../packages/noise/src/tai64n.js";
import { type BenchResult, printResults, runSuite } from "./suite.js";

const EP_A: Endpoint = { address: "198.18.0.1", port: 51820, family: 4 };
const EP_B: Endpoint = { address: "198.18.0.2", port: 51820, family: 4 };
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const WALL_BASE = 1_700_000_000_000_000_000n;
const WARM_UP_MS = 1500;

/** Runs `op` unmeasured until the JIT has compiled the hot path (see the header). */
function warmedUp(op: () => void): () => void {
  const end = performance.now() + WARM_UP_MS;
  while (performance.now() < end) op();
  return op;
}

function ipv4Packet(): Uint8Array {
  const p = new Uint8Array(64);
  p[0] = 0x45;
  p[3] = 64;
  p.set([198, 19, 0, 1], 12);
  p.set([198, 19, 0, 2], 16);
  return p;
}

function makeEngine(c: CryptoProvider, clock: { now: number }): Engine {
  return new Engine({ crypto: c, wallClock: () => WALL_BASE + BigInt(clock.now) * 1_000_000n });
}

/** Two engines that know each other; `round()` runs one complete handshake. */
function handshakePair(c: CryptoProvider): () => void {
  const clock = { now: 0 };
  const a = makeEngine(c, clock);
  const b = makeEngine(c, clock);
  const skA = c.randomBytes(32);
  const skB = c.randomBytes(32);
  const out: Action[] = [];
  a.ipcSet(
    `private_key=${hex(skA)}\npublic_key=${hex(c.x25519PublicKey(skB))}\nendpoint=198.18.0.2:51820\nallowed_ip=198.19.0.2/32\n`,
    0,
    out,
  );
  b.ipcSet(
    `private_key=${hex(skB)}\npublic_key=${hex(c.x25519PublicKey(skA))}\nallowed_ip=198.19.0.1/32\n`,
    0,
    out,
  );
  const packet = ipv4Packet();
  const toA: Action[] = [];
  const toB: Action[] = [];
  return () => {
    clock.now += 180_001; // the last keypair is dead: the packet must start a handshake
    toB.length = 0;
    a.handleOutbound(packet, clock.now, toB); // initiation
    let delivered = 0;
    for (let round = 0; round < 3; round++) {
      toA.length = 0;
      for (const x of toB) if (x.kind === "send") b.handleDatagram(x.data, EP_A, clock.now, toA);
      toB.length = 0;
      for (const x of toA) if (x.kind === "send") a.handleDatagram(x.data, EP_B, clock.now, toB);
      for (const x of toA) if (x.kind === "deliver") delivered++;
    }
    if (delivered !== 1) throw new Error("handshake did not complete");
  };
}

/** A responder and a pool of initiations from one peer with increasing timestamps. */
function responder(c: CryptoProvider, poolSize: number): () => void {
  const skA = c.randomBytes(32);
  const skB = c.randomBytes(32);
  const pkA = c.x25519PublicKey(skA);
  const pkB = c.x25519PublicKey(skB);
  const proto = wireguardProtocol(c);
  const ss = c.x25519(skA, pkB);
  const macs = new CookieGenerator(c, pkB);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < poolSize; i++) {
    const r = createInitiation(
      c,
      proto,
      pkA,
      pkB,
      ss,
      c.randomBytes(32),
      tai64n(WALL_BASE + BigInt(i) * 1_000_000_000n),
    );
    if (r === null) throw new Error("initiation");
    const msg = encodeInitiation({
      sender: i + 1,
      ephemeral: r.ephemeral,
      encryptedStatic: r.encryptedStatic,
      encryptedTimestamp: r.encryptedPayload,
    });
    macs.addMacs(msg, 0);
    pool.push(msg);
  }
  const clock = { now: 0 };
  let b = makeEngine(c, clock);
  let i = 0;
  const out: Action[] = [];
  const fresh = (): void => {
    b = makeEngine(c, clock);
    b.ipcSet(`private_key=${hex(skB)}\npublic_key=${hex(pkA)}\nallowed_ip=198.19.0.1/32\n`, 0, out);
    i = 0;
  };
  fresh();
  return () => {
    if (i === pool.length) fresh(); // a new responder: the pool's timestamps are fresh to it
    clock.now += 21; // the 20 ms flood limit
    out.length = 0;
    b.handleDatagram(pool[i++], EP_A, clock.now, out);
    if (out.length === 0 || out[out.length - 1].kind !== "send") throw new Error("no response");
  };
}

/**
 * Runs both benchmarks for each provider in turn (default: the node provider). Passing variants
 * of one provider (e.g. before/after an optimisation, repeated) measures them side by side.
 */
export async function runHandshakeBench(
  providers: readonly CryptoProvider[] = [nodeCrypto],
): Promise<BenchResult[]> {
  const suite = new Benchmark.Suite("handshake");
  for (const c of providers) {
    suite.add(`${c.name}: complete handshake (both sides)`, warmedUp(handshakePair(c)));
    suite.add(`${c.name}: initiation answered by responder`, warmedUp(responder(c, 4000)));
  }
  return runSuite(suite, { maxTime: 2 });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const results = await runHandshakeBench();
  printResults(results);
}
