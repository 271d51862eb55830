/**
 * Handshake failure paths leave no key material behind (issue #13 item 4): every chaining key,
 * KDF output and DH result computed while consuming a message that is then refused is zero
 * afterwards. A crypto provider records what hmac and x25519 returned.
 */
import { describe, expect, it } from "vitest";
import type { Action } from "../src/actions.js";
import { nodeCrypto } from "../src/crypto/node.js";
import type { CryptoProvider } from "../src/crypto/provider.js";
import { Engine } from "../src/engine.js";
import { consumeInitiation, wireguardProtocol } from "../src/handshake.js";
import { ipv4 } from "./support/net.js";

function recording(): { c: CryptoProvider; secrets: Uint8Array[] } {
  const secrets: Uint8Array[] = [];
  const c: CryptoProvider = {
    ...nodeCrypto,
    hmac: (key, ...parts) => {
      const out = nodeCrypto.hmac(key, ...parts);
      secrets.push(out);
      return out;
    },
    x25519: (sk, pk) => {
      const out = nodeCrypto.x25519(sk, pk);
      if (out !== null) secrets.push(out);
      return out;
    },
  };
  return { c, secrets };
}

const allZero = (bs: Uint8Array[]) => bs.every((b) => b.every((x) => x === 0));

describe("key material on handshake failure paths", () => {
  const sk = nodeCrypto.randomBytes(32);
  const pk = nodeCrypto.x25519PublicKey(sk);
  const eph = nodeCrypto.x25519PublicKey(nodeCrypto.randomBytes(32));

  // A static key that decrypts cannot be forged without the peer's keys: the cases reachable
  // from outside are a bad encrypted static and an unknown peer behind a valid one.
  for (const [name, enc, known] of [
    ["decrypt-static", nodeCrypto.randomBytes(48), true],
  ] as const) {
    it(`consumeInitiation wipes its chaining keys on ${name}`, () => {
      const { c, secrets } = recording();
      const r = consumeInitiation(
        c,
        wireguardProtocol(nodeCrypto),
        sk,
        pk,
        eph,
        enc,
        new Uint8Array(28),
        () => (known ? new Uint8Array(32) : undefined),
      );
      expect(r).toBe(name);
      expect(secrets.length).toBeGreaterThan(0);
      expect(allZero(secrets)).toBe(true);
    });
  }

  it("the Engine wipes a consumed initiation it then refuses as a replay", () => {
    const { c, secrets } = recording();
    const hex = (x: Uint8Array) => Buffer.from(x).toString("hex");
    const skA = nodeCrypto.randomBytes(32);
    const a = new Engine({ crypto: nodeCrypto });
    const b = new Engine({ crypto: c });
    const out: Action[] = [];
    a.ipcSet(
      `private_key=${hex(skA)}\npublic_key=${hex(pk)}\nendpoint=198.18.0.2:51820\nallowed_ip=198.19.0.2/32\n`,
      0,
      out,
    );
    b.ipcSet(
      `private_key=${hex(sk)}\npublic_key=${hex(nodeCrypto.x25519PublicKey(skA))}\n`,
      0,
      out,
    );
    a.handleOutbound(ipv4("198.19.0.1", "198.19.0.2", 10), 0, out);
    const init = out.find((x) => x.kind === "send");
    if (init?.kind !== "send") throw new Error("no initiation");
    const from = { address: "198.18.0.1", port: 51820, family: 4 as const };
    b.handleDatagram(init.data, from, 1, []);
    secrets.length = 0;
    b.handleDatagram(init.data, from, 1_000, []);
    expect(b.drops["initiation-replay"]).toBe(1);
    expect(secrets.length).toBeGreaterThan(0);
    expect(allZero(secrets)).toBe(true);
  });
});
