import { describe, expect, it } from "vitest";
import { COOKIE_REFRESH_TIME, COOKIE_SECRET_LATENCY } from "../src/constants.js";
import { CookieChecker, CookieGenerator, cookieSource } from "../src/cookie.js";
import { nodeCrypto as c } from "../src/crypto/node.js";
import { decodeMessage } from "../src/messages.js";

/** Round-trip tests in the manner of wireguard-go cookie_test.go (random keys, reference §3). */
function setup() {
  const sk = c.randomBytes(32);
  const pk = c.x25519PublicKey(sk);
  const checker = new CookieChecker(c);
  checker.init(pk);
  const gen = new CookieGenerator(c, pk);
  const msg = (): Uint8Array => {
    const m = c.randomBytes(148);
    m.set([1, 0, 0, 0]);
    return m;
  };
  return { checker, gen, msg };
}

const ip = Uint8Array.of(198, 18, 0, 1);

describe("mac1 / mac2 / cookie reply (whitepaper §5.4.4, §5.4.7)", () => {
  it("mac1 verifies for the receiver's key only, and covers every byte before it", () => {
    const { checker, gen, msg } = setup();
    const m = msg();
    gen.addMacs(m, 0);
    expect(checker.checkMac1(m)).toBe(true);
    const other = new CookieChecker(c);
    other.init(c.x25519PublicKey(c.randomBytes(32)));
    expect(other.checkMac1(m)).toBe(false);
    m[10] ^= 1;
    expect(checker.checkMac1(m)).toBe(false);
  });

  it("mac2 is rejected without a cookie, accepted after a cookie reply, bound to IP and port", () => {
    const { checker, gen, msg } = setup();
    const src = cookieSource(ip, 51820);
    const m = msg();
    gen.addMacs(m, 0);
    expect(checker.checkMac2(m, src, 0)).toBe(false);
    const reply = checker.createReply(m, 77, src, 0, (n) => c.randomBytes(n));
    expect(reply?.length).toBe(64);
    const d = decodeMessage(reply as Uint8Array);
    if (!d.ok || d.message.type !== 3) throw new Error("cookie reply");
    expect(d.message.receiver).toBe(77);
    expect(gen.consumeReply(d.message.nonce, d.message.encryptedCookie, 10)).toBe(true);
    // A second copy of the same reply no longer authenticates (its aad was consumed).
    expect(gen.consumeReply(d.message.nonce, d.message.encryptedCookie, 10)).toBe(false);

    const m2 = msg();
    gen.addMacs(m2, 20);
    expect(checker.checkMac1(m2)).toBe(true);
    expect(checker.checkMac2(m2, src, 20)).toBe(true);
    expect(checker.checkMac2(m2, cookieSource(ip, 51821), 20)).toBe(false);
    expect(checker.checkMac2(m2, cookieSource(Uint8Array.of(198, 18, 0, 2), 51820), 20)).toBe(
      false,
    );
    // The responder's secret expires after COOKIE_REFRESH_TIME.
    expect(checker.checkMac2(m2, src, COOKIE_REFRESH_TIME + 1)).toBe(false);
  });

  it("a received cookie is used for mac2 only while younger than 120 − 5 s", () => {
    const { checker, gen, msg } = setup();
    const src = cookieSource(ip, 1);
    const m = msg();
    gen.addMacs(m, 0);
    const d = decodeMessage(
      checker.createReply(m, 1, src, 0, (n) => c.randomBytes(n)) as Uint8Array,
    );
    if (!d.ok || d.message.type !== 3) throw new Error("cookie reply");
    gen.consumeReply(d.message.nonce, d.message.encryptedCookie, 0);
    const fresh = msg();
    gen.addMacs(fresh, COOKIE_REFRESH_TIME - COOKIE_SECRET_LATENCY - 1);
    expect(fresh.subarray(132).some((b) => b !== 0)).toBe(true);
    const stale = msg();
    gen.addMacs(stale, COOKIE_REFRESH_TIME - COOKIE_SECRET_LATENCY);
    expect(stale.subarray(132).every((b) => b === 0)).toBe(true);
  });

  it("a tampered cookie reply is rejected", () => {
    const { checker, gen, msg } = setup();
    const m = msg();
    gen.addMacs(m, 0);
    const reply = checker.createReply(m, 1, cookieSource(ip, 1), 0, (n) =>
      c.randomBytes(n),
    ) as Uint8Array;
    reply[40] ^= 0x80;
    const d = decodeMessage(reply);
    if (!d.ok || d.message.type !== 3) throw new Error("cookie reply");
    expect(gen.consumeReply(d.message.nonce, d.message.encryptedCookie, 0)).toBe(false);
  });
});
