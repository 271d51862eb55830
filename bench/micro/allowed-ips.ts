/**
 * Micro-benchmark: AllowedIPs longest-prefix lookups with 10,000 random prefixes, reading the
 * destination address in place from a packet-sized buffer as the engine does (IPv4 dst at
 * offset 16, IPv6 dst at offset 24). Target: ≥ 2,000,000 lookups/s.
 * Run: node --conditions=@wirespan/source --import tsx bench/micro/allowed-ips.ts
 */
import { pathToFileURL } from "node:url";
import Benchmark from "benchmark";
import { AllowedIPs } from "../../packages/noise/src/allowed-ips.js";
import { makeCidr } from "../../packages/noise/src/cidr.js";
import { type BenchResult, printResults, runSuite } from "./suite.js";

const PREFIXES = 10_000;
const PACKETS = 4096;

/** Seeded PRNG (mulberry32): the same table on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function build(family: 4 | 6) {
  const rand = rng(family === 4 ? 4 : 6);
  const len = family === 4 ? 4 : 16;
  const table = new AllowedIPs<number>();
  const addrs: Uint8Array[] = [];
  for (let i = 0; i < PREFIXES; i++) {
    const a = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
    // Prefix lengths as a mesh would use them: mostly hosts and small subnets.
    const bits = family === 4 ? 16 + Math.floor(rand() * 17) : 48 + Math.floor(rand() * 81);
    table.insert(makeCidr(a, bits), i % 100);
    addrs.push(a);
  }
  // Packets: half to addresses inside inserted prefixes, half random (mostly misses).
  const offset = family === 4 ? 16 : 24;
  const stride = offset + len;
  const packets = new Uint8Array(PACKETS * stride);
  for (let i = 0; i < PACKETS; i++) {
    const dst =
      i % 2 === 0
        ? addrs[Math.floor(rand() * addrs.length)]
        : Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
    packets.set(dst, i * stride + offset);
  }
  return { table, packets, offset, stride, len: len as 4 | 16 };
}

export async function runAllowedIpsBench(): Promise<BenchResult[]> {
  const v4 = build(4);
  const v6 = build(6);
  let i4 = 0;
  let i6 = 0;
  let sink = 0;
  const suite = new Benchmark.Suite("allowed-ips");
  suite.add(`allowed-ips lookup IPv4 (${PREFIXES} prefixes)`, () => {
    const v = v4.table.lookup(v4.packets, i4 * v4.stride + v4.offset, 4);
    if (v !== undefined) sink += v;
    i4 = (i4 + 1) & (PACKETS - 1);
  });
  suite.add(`allowed-ips lookup IPv6 (${PREFIXES} prefixes)`, () => {
    const v = v6.table.lookup(v6.packets, i6 * v6.stride + v6.offset, 16);
    if (v !== undefined) sink += v;
    i6 = (i6 + 1) & (PACKETS - 1);
  });
  const results = await runSuite(suite, { rate: "mean" });
  if (sink === -1) console.log(sink); // keep the results observable
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const results = await runAllowedIpsBench();
  printResults(results);
}
