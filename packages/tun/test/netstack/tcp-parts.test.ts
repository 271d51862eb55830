import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { halfSipHash, TupleHasher } from "../../src/netstack/tcp/isn.js";
import { RecvBuffer } from "../../src/netstack/tcp/recv-buffer.js";
import { SackScoreboard } from "../../src/netstack/tcp/sack.js";
import { parseSegment, Segment } from "../../src/netstack/tcp/segment.js";
import { SendBuffer } from "../../src/netstack/tcp/send-buffer.js";
import { seqAdd, seqDiff, seqGt, seqLt } from "../../src/netstack/tcp/seq.js";
import { COOKIE_MSS, checkCookie, makeCookie } from "../../src/netstack/tcp/syn-cookie.js";
import { TimerHeap } from "../../src/netstack/tcp/timer-heap.js";
import { equalBytes } from "./tcp-pair.js";

describe("TCP building blocks", () => {
  it("compares sequence numbers modulo 2^32 (RFC 9293 §3.4)", () => {
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqGt(5, 0xfffffff0)).toBe(true);
    expect(seqAdd(0xffffffff, 2)).toBe(1);
    expect(seqDiff(3, 0xfffffffe)).toBe(5);
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 0x7fffffff }), (a, n) => {
        const b = seqAdd(a, n);
        return seqLt(a, b) && seqGt(b, a) && seqDiff(b, a) === n;
      }),
    );
  });

  it("HalfSipHash-2-4 matches the reference vectors (key 00…07, message 00…n−1)", () => {
    const le = (h: number) => [h & 255, (h >>> 8) & 255, (h >>> 16) & 255, h >>> 24];
    const k0 = 0x03020100;
    const k1 = 0x07060504;
    const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
    expect(le(halfSipHash(k0, k1, msg(0)))).toEqual([0xa9, 0x35, 0x9f, 0x5b]);
    expect(le(halfSipHash(k0, k1, msg(1)))).toEqual([0x27, 0x47, 0x5a, 0xb8]);
    expect(le(halfSipHash(k0, k1, msg(4)))).toEqual([0x2a, 0x6e, 0x46, 0x89]);
  });

  it("SYN cookies verify within two 64 s periods, carry the MSS index, and reject tampering", () => {
    const h = new TupleHasher(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const t = {
      local: Uint8Array.of(10, 0, 0, 1),
      localPort: 80,
      remote: Uint8Array.of(10, 0, 0, 2),
      remotePort: 5555,
    };
    const c = makeCookie(h, t, 12345, 1460, 1_000_000);
    expect(checkCookie(h, t, 12345, c, 1_000_000)).toBe(1460);
    expect(checkCookie(h, t, 12345, c, 1_000_000 + 64_000)).toBe(1460);
    expect(checkCookie(h, t, 12345, c, 1_000_000 + 3 * 64_000)).toBe(0);
    expect(checkCookie(h, t, 12345 + 0x100000, c, 1_000_000)).toBe(0);
    expect(checkCookie(h, { ...t, remotePort: 5556 }, 12345, c, 1_000_000)).toBe(0);
    expect(checkCookie(h, t, 12345, makeCookie(h, t, 1, 600, 0), 0)).toBe(0);
    expect(checkCookie(h, t, 1, makeCookie(h, t, 1, 600, 0), 0)).toBe(COOKIE_MSS[0]);
  });

  it("reassembles any permutation of overlapping, duplicated segments into the original stream", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.array(fc.tuple(fc.nat({ max: 1999 }), fc.integer({ min: 1, max: 300 })), {
          maxLength: 60,
        }),
        (data, cuts) => {
          const pieces: Array<[number, number]> = cuts.map(([s, l]) => [
            Math.min(s, data.length - 1),
            Math.min(data.length, s + l),
          ]);
          for (let i = 0; i < data.length; i += 97) pieces.push([i, Math.min(data.length, i + 97)]);
          const rb = new RecvBuffer(true);
          for (const [s, e] of pieces) if (e > s) rb.push(s, data.subarray(s, e));
          const out: number[] = [];
          for (let c = rb.read(50); c !== null; c = rb.read(50)) out.push(...c);
          expect(Uint8Array.from(out)).toEqual(data);
          expect(rb.outOfOrderBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the send buffer returns exactly what was appended, at any offset, across block boundaries", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 10 }),
        (writes) => {
          const sb = new SendBuffer(40_000);
          const all = new Uint8Array(writes.reduce((a, b) => a + b, 0));
          let total = 0;
          let consumed = 0;
          for (const [i, n] of writes.entries()) {
            const chunk = Uint8Array.from({ length: n }, (_, k) => (k * 7 + i) & 255);
            const took = sb.append(chunk);
            all.set(chunk.subarray(0, took), total);
            total += took;
            expect(sb.length).toBeLessThanOrEqual(40_000);
            const half = Math.floor(sb.length / 2);
            const view = new Uint8Array(half);
            sb.copyOut(0, half, view, 0);
            expect(equalBytes(view, all.subarray(consumed, consumed + half))).toBe(true);
            sb.consume(half);
            consumed += half;
          }
          sb.consume(sb.length);
          expect(sb.blockCount).toBe(0);
          const again = Uint8Array.from({ length: 100 }, (_, k) => k);
          sb.append(again);
          const view = new Uint8Array(100);
          sb.copyOut(0, 100, view, 0);
          expect(equalBytes(view, again)).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("an emptied send buffer holds no block (an idle connection costs none)", () => {
    const sb = new SendBuffer(1 << 20);
    sb.append(new Uint8Array(1000).fill(9));
    expect(sb.blockCount).toBe(1);
    sb.consume(400);
    expect(sb.blockCount).toBe(1);
    sb.consume(600);
    expect(sb.blockCount).toBe(0);
    sb.append(new Uint8Array(40_000));
    expect(sb.blockCount).toBe(3);
    sb.clear();
    expect(sb.blockCount).toBe(0);
  });

  it("the SACK scoreboard merges ranges, forgets acknowledged ones and finds lost data (RFC 6675 IsLost)", () => {
    const sb = new SackScoreboard();
    sb.add(3000, 4000);
    sb.add(5000, 6000);
    sb.add(4000, 5000);
    expect(sb.sackedBytes).toBe(3000);
    expect(sb.skipSacked(3500)).toBe(6000);
    expect(sb.nextSackedAbove(1000)).toBe(3000);
    // More than 2·SMSS SACKed above 0…3000: lost.
    expect(sb.lossEdge(1000)).toBe(3000);
    expect(sb.holesBetween(0, 7000)).toBe(4000);
    sb.ackTo(3500);
    expect(sb.sackedBytes).toBe(2500);
    expect(sb.lossEdge(1000)).toBe(3500);
    sb.ackTo(6000);
    expect(sb.empty).toBe(true);
  });

  it("the timer heap pops in deadline order", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 200 }), (ds) => {
        const h = new TimerHeap<number>();
        for (const d of ds) h.push(d, d);
        const out: number[] = [];
        for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
        expect(out).toEqual([...ds].sort((a, b) => a - b));
      }),
    );
  });

  it("parses any bytes without throwing; rejects short headers and bad data offsets", () => {
    const seg = new Segment();
    expect(parseSegment(new Uint8Array(19), seg)).toBe(false);
    const b = new Uint8Array(20);
    b[12] = 4 << 4;
    expect(parseSegment(b, seg)).toBe(false);
    b[12] = 6 << 4;
    expect(parseSegment(b, seg)).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        if (parseSegment(bytes, seg)) {
          expect(seg.headerLength).toBeGreaterThanOrEqual(20);
          expect(seg.headerLength + seg.payload.length).toBe(bytes.length);
          expect(seg.sackCount).toBeLessThanOrEqual(4);
          expect(seg.wscale).toBeLessThanOrEqual(14);
        }
      }),
      { numRuns: 500 },
    );
  });
});
