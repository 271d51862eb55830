/**
 * What a handshake flood may cost the Engine (issue #11): cookie replies are rate-limited per
 * source like the handshakes they answer, an all-zero mac2 is refused without computing a
 * cookie, a failed mac2 and the reply that follows compute the cookie once, the rate limiter
 * collects idle sources without waiting for tick(), and a runtime's load report turns cookies on.
 */
import { describe, expect, it } from "vitest";
import type { Action } from "../src/actions.js";
import { MESSAGE_HANDSHAKE_COOKIE, MESSAGE_HANDSHAKE_INITIATION } from "../src/constants.js";
import { CookieChecker, CookieGenerator, cookieSource } from "../src/cookie.js";
import { nodeCrypto } from "../src/crypto/node.js";
import type { CryptoProvider } from "../src/crypto/provider.js";
import { RateLimiter } from "../src/ratelimiter.js";
import { ipv4, pair } from "./support/net.js";

/** nodeCrypto with a counter of keyed-BLAKE2s calls. */
function countingCrypto(): { c: CryptoProvider; macs: () => number } {
  let n = 0;
  const c: CryptoProvider = {
    ...nodeCrypto,
    mac: (key, data) => {
      n++;
      return nodeCrypto.mac(key, data);
    },
  };
  return { c, macs: () => n };
}

describe("Engine under a handshake flood", () => {
  it("limits cookie replies per source address like the handshakes they answer", () => {
    const { net, a, b } = pair();
    b.engine.underLoadThreshold = 0;
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    const [init] = net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION);
    const since = net.wire.length;
    // The same valid-mac1 initiation from 100 ports of one address, all at one instant.
    for (let port = 1000; port < 1100; port++) {
      net.inject(b, init.data, { address: "198.18.0.1", port, family: 4 });
    }
    const replies = net.sentBy(b, MESSAGE_HANDSHAKE_COOKIE, since).length;
    expect(replies).toBeLessThanOrEqual(5); // the kernel's burst
    expect(b.engine.drops["rate-limited"]).toBe(100 - replies);
  });

  it("turns cookies on when the runtime reports load, without any handshake rate", () => {
    const { net, a, b } = pair();
    b.engine.reportLoad(net.now);
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(net.sentBy(b, MESSAGE_HANDSHAKE_COOKIE)).toHaveLength(1);
    net.advance(5_400); // after UNDER_LOAD_AFTER_TIME the retry is answered
    expect(b.delivered).toHaveLength(1);
  });

  it("uses the endpoint's binary address without parsing its text", () => {
    const { net, a, b } = pair();
    b.engine.underLoadThreshold = 0;
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    const [init] = net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION);
    const out: Action[] = [];
    // The text is unparseable on purpose: only the bytes may be used.
    b.engine.handleDatagram(
      init.data,
      { address: "not-parsed", port: 7, family: 4, ip: Uint8Array.of(198, 18, 0, 9) },
      net.now + 1,
      out,
    );
    expect(out.filter((x) => x.kind === "send")).toHaveLength(1);
    expect(b.engine.drops["bad-source"]).toBeUndefined();
  });
});

describe("CookieChecker cost", () => {
  function setup() {
    const { c, macs } = countingCrypto();
    const pk = nodeCrypto.x25519PublicKey(nodeCrypto.randomBytes(32));
    const checker = new CookieChecker(c);
    checker.init(pk);
    const gen = new CookieGenerator(nodeCrypto, pk);
    const msg = nodeCrypto.randomBytes(148);
    msg.set([1, 0, 0, 0]);
    return { checker, gen, msg, macs };
  }
  const src = cookieSource(Uint8Array.of(198, 18, 0, 1), 51820);
  const random = (n: number) => nodeCrypto.randomBytes(n);

  it("refuses an all-zero mac2 without computing a cookie", () => {
    const { checker, gen, msg, macs } = setup();
    checker.createReply(msg, 1, src, 0, random); // a fresh secret exists
    gen.addMacs(msg, 0); // no cookie held: mac2 = 0
    const before = macs();
    expect(checker.checkMac2(msg, src, 1)).toBe(false);
    expect(macs()).toBe(before);
  });

  it("computes the cookie once for a failed mac2 and the cookie reply that follows", () => {
    const { checker, msg, macs } = setup();
    checker.createReply(msg, 1, cookieSource(Uint8Array.of(198, 18, 0, 2), 1), 0, random);
    msg.fill(0x33, 148 - 16); // a wrong, non-zero mac2
    const before = macs();
    expect(checker.checkMac2(msg, src, 1)).toBe(false);
    checker.createReply(msg, 1, src, 1, random);
    // MAC(secret, source) once, MAC(cookie, msg) once.
    expect(macs() - before).toBe(2);
  });
});

describe("RateLimiter garbage collection", () => {
  it("drops idle sources from allow() itself, without a tick", () => {
    const r = new RateLimiter();
    for (let i = 0; i < 200; i++) r.allow(Uint8Array.of(198, 18, 1, i), 0);
    expect(r.size).toBe(200);
    r.allow(Uint8Array.of(198, 18, 2, 1), 5_000);
    expect(r.size).toBe(1);
  });
});
