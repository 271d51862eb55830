import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
} from "../src/constants.js";
import {
  decodeMessage,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  writeTransportHeader,
} from "../src/messages.js";

const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

describe("message codec (whitepaper §5.4.2–§5.4.7)", () => {
  it("encodes the fixed messages at their exact sizes and decodes them back", () => {
    const init = encodeInitiation({
      sender: 0xdeadbeef,
      ephemeral: bytes(32, 1),
      encryptedStatic: bytes(48, 2),
      encryptedTimestamp: bytes(28, 3),
    });
    expect(init.length).toBe(148);
    expect([...init.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    const d1 = decodeMessage(init);
    if (!d1.ok || d1.message.type !== 1) throw new Error("initiation");
    expect(d1.message.sender).toBe(0xdeadbeef);
    expect(d1.message.encryptedStatic).toEqual(bytes(48, 2));
    expect(d1.message.encryptedTimestamp).toEqual(bytes(28, 3));

    const resp = encodeResponse({
      sender: 7,
      receiver: 0xffffffff,
      ephemeral: bytes(32, 4),
      encryptedNothing: bytes(16, 5),
    });
    expect(resp.length).toBe(92);
    const d2 = decodeMessage(resp);
    if (!d2.ok || d2.message.type !== 2) throw new Error("response");
    expect([d2.message.sender, d2.message.receiver]).toEqual([7, 0xffffffff]);
    expect(d2.message.encryptedNothing).toEqual(bytes(16, 5));

    const cookie = encodeCookieReply({
      receiver: 9,
      nonce: bytes(24, 6),
      encryptedCookie: bytes(32, 7),
    });
    expect(cookie.length).toBe(64);
    const d3 = decodeMessage(cookie);
    if (!d3.ok || d3.message.type !== 3) throw new Error("cookie");
    expect(d3.message.nonce).toEqual(bytes(24, 6));

    const t = new Uint8Array(32);
    expect(writeTransportHeader(t, 5, (1n << 64n) - 2n, 0)).toBe(32);
    const d4 = decodeMessage(t);
    if (!d4.ok || d4.message.type !== 4) throw new Error("transport");
    expect(d4.message.counter).toBe((1n << 64n) - 2n);
    expect(d4.message.receiver).toBe(5);
  });

  it("rejects wrong lengths, unknown types and nonzero reserved bytes with a typed reason", () => {
    expect(decodeMessage(new Uint8Array(3))).toEqual({ ok: false, reason: "empty" });
    for (const [type, size] of [
      [1, MESSAGE_INITIATION_SIZE],
      [2, MESSAGE_RESPONSE_SIZE],
      [3, MESSAGE_COOKIE_REPLY_SIZE],
    ]) {
      for (const n of [4, size - 1, size + 1]) {
        const b = new Uint8Array(n);
        b[0] = type;
        expect(decodeMessage(b)).toEqual({ ok: false, reason: "bad-length" });
      }
    }
    const short = new Uint8Array(31);
    short[0] = 4;
    expect(decodeMessage(short)).toEqual({ ok: false, reason: "bad-length" });
    const reserved = new Uint8Array(148);
    reserved[0] = 1;
    reserved[2] = 1;
    expect(decodeMessage(reserved)).toEqual({ ok: false, reason: "unknown-type" });
    expect(decodeMessage(bytes(64, 0))).toEqual({ ok: false, reason: "unknown-type" });
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 6 }), (b, t) => {
        if (b.length >= 4) b.set([t, 0, 0, 0]);
        const d = decodeMessage(b);
        if (d.ok) {
          const want = { 1: 148, 2: 92, 3: 64 }[d.message.type as 1 | 2 | 3];
          if (want !== undefined) expect(b.length).toBe(want);
          else expect(b.length).toBeGreaterThanOrEqual(32);
        }
      }),
    );
  });
});
