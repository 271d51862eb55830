/** A deterministic byte stream (AES-128-CTR keystream of a seed) both ends of a bulk test generate. */
import { createCipheriv, createHash } from "node:crypto";

const CHUNK = 64 << 10;

/** Yields `total` bytes of the stream for `seed`, in 64 KiB chunks. */
export function* streamChunks(seed: string, total: number): Generator<Buffer> {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const c = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = total; left > 0; left -= CHUNK)
    yield c.update(zeros.subarray(0, Math.min(CHUNK, left)));
}

/** SHA-256 of the stream for `seed` (what a receiver must compute over what it got). */
export function streamSha(seed: string, total: number): string {
  const h = createHash("sha256");
  for (const chunk of streamChunks(seed, total)) h.update(chunk);
  return h.digest("hex");
}
