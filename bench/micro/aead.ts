/**
 * The transport AEAD, libsodium (sodium-native) against OpenSSL through the addon
 * (native/aead.cc), interleaved round by round in one process so that a shared machine's noise
 * falls on both alike: ChaCha20-Poly1305 seal and open of a full 1420-byte packet and of a
 * 64-byte one (a TCP ACK's size, where the per-call overhead shows). node:crypto runs alongside:
 * its createCipheriv per nonce is why OpenSSL needed the addon.
 * Run: node --conditions=@wirespan/source --import tsx bench/micro/aead.ts [--rounds N]
 */
import { createCipheriv } from "node:crypto";
import { loadavg } from "node:os";
import { createNodeCrypto } from "../../packages/noise/src/crypto/node.js";
import { nativeAead } from "../../packages/tun/src/internal.js";
import { median } from "../tunnel/stats.js";

type Op = (counter: bigint) => void;

function ops(size: number): Array<[string, Op]> {
  const sodium = createNodeCrypto();
  const native = nativeAead();
  const key = new Uint8Array(32).fill(7);
  const pt = new Uint8Array(size).fill(9);
  const out = new Uint8Array(16 + size + 16);
  const sealed = new Uint8Array(size + 16);
  sodium.seal(key, 5n, pt, null, sealed, 0);
  const back = new Uint8Array(size);
  const nonce = Buffer.alloc(12);
  const list: Array<[string, Op]> = [
    [`${sodium.name} seal`, (c) => sodium.seal(key, c, pt, null, out, 16)],
    [`${sodium.name} open`, () => sodium.open(key, 5n, sealed, null, back, 0)],
    [
      "node:crypto Cipheriv seal",
      (c) => {
        nonce.writeBigUInt64LE(c, 4);
        const ci = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
        out.set(ci.update(pt), 16);
        ci.final();
        out.set(ci.getAuthTag(), 16 + size);
      },
    ],
  ];
  if (native !== null) {
    list.push(["OpenSSL (addon) seal", (c) => native.aeadSeal(key, c, pt, null, out, 16)]);
    list.push(["OpenSSL (addon) open", () => native.aeadOpen(key, 5n, sealed, null, back, 0)]);
  }
  return list;
}

function main(): void {
  const i = process.argv.indexOf("--rounds");
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 7;
  const lines = [
    `ns per operation, median (minimum) of ${rounds} interleaved rounds × 20,000 ops; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
    "",
    "| operation | 1420 B | 64 B |",
    "|---|---:|---:|",
  ];
  const table = new Map<string, string[]>();
  for (const size of [1420, 64]) {
    const list = ops(size);
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const [name, op] of list) {
        const n = 20_000;
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < n; k++) op(BigInt(k));
        const ns = Number(process.hrtime.bigint() - t0) / n;
        samples.set(name, [...(samples.get(name) ?? []), ns]);
      }
    }
    for (const [name, v] of samples) {
      const cell = `${median(v).toFixed(0)} (${Math.min(...v).toFixed(0)})`;
      table.set(name, [...(table.get(name) ?? []), cell]);
    }
  }
  for (const [name, cells] of table) lines.push(`| ${name} | ${cells.join(" | ")} |`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

main();
