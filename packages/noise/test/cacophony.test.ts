import { describe, expect, it } from "vitest";
import { CONSTRUCTION, IDENTIFIER } from "../src/constants.js";
import { nodeCrypto } from "../src/crypto/node.js";
import { portableCrypto } from "../src/crypto/portable.js";
import type { CryptoProvider } from "../src/crypto/provider.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  noiseProtocol,
  wireguardProtocol,
} from "../src/handshake.js";

/**
 * cacophony test vectors (haskell-cryptography/cacophony, vectors/cacophony.txt), entry
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s; copied from /work/shared/vectors/noise-ikpsk2-cacophony.json.
 * Reference §3: WireGuard's handshake is this Noise pattern with the identifier as prologue.
 */
const V = {
  protocol_name: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s",
  prologue: "4a6f686e2047616c74",
  psk: "54686973206973206d7920417573747269616e20706572737065637469766521",
  init_static: "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
  init_ephemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
  init_remote_static: "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
  resp_static: "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
  resp_ephemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
  handshake_hash: "f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5",
  messages: [
    {
      payload: "4c756477696720766f6e204d69736573",
      ciphertext:
        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985464cf17e51ee93109008399a21f7e13f",
    },
    {
      payload: "4d757272617920526f746862617264",
      ciphertext:
        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab0322217755c0632f365717edbf34d33e87a",
    },
    {
      payload: "462e20412e20486179656b",
      ciphertext: "8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7",
    },
    {
      payload: "4361726c204d656e676572",
      ciphertext: "07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef",
    },
    {
      payload: "4a65616e2d426170746973746520536179",
      ciphertext: "6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d",
    },
    {
      payload: "457567656e2042f6686d20766f6e2042617765726b",
      ciphertext: "dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292",
    },
  ],
};

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

function seal(c: CryptoProvider, key: Uint8Array, counter: bigint, pt: Uint8Array): Uint8Array {
  const out = new Uint8Array(pt.length + 16);
  c.seal(key, counter, pt, null, out, 0);
  return out;
}

describe.each([
  ["portable", portableCrypto],
  ["node", nodeCrypto],
])("Noise_IKpsk2 cacophony vector (%s crypto)", (_name, c) => {
  it("reproduces both handshake messages, the handshake hash and four transport messages", () => {
    const proto = noiseProtocol(c, new TextEncoder().encode(V.protocol_name), hex(V.prologue));
    const iStatic = hex(V.init_static);
    const rStatic = hex(V.resp_static);
    const iPub = c.x25519PublicKey(iStatic);
    const rPub = c.x25519PublicKey(rStatic);
    expect(toHex(rPub)).toBe(V.init_remote_static);
    const psk = hex(V.psk);

    // -> e, es, s, ss
    const init = createInitiation(
      c,
      proto,
      iPub,
      rPub,
      c.x25519(iStatic, rPub),
      hex(V.init_ephemeral),
      hex(V.messages[0].payload),
    );
    expect(init).not.toBeNull();
    if (init === null) return;
    const msg0 = concat(init.ephemeral, init.encryptedStatic, init.encryptedPayload);
    expect(toHex(msg0)).toBe(V.messages[0].ciphertext);

    const consumed = consumeInitiation(
      c,
      proto,
      rStatic,
      rPub,
      msg0.subarray(0, 32),
      msg0.subarray(32, 80),
      msg0.subarray(80),
      (rs) => (toHex(rs) === toHex(iPub) ? c.x25519(rStatic, rs) : undefined),
    );
    if (typeof consumed === "string") throw new Error(consumed);
    expect(toHex(consumed.payload)).toBe(V.messages[0].payload);
    expect(toHex(consumed.remoteStatic)).toBe(toHex(iPub));

    // <- e, ee, se, psk
    const resp = createResponse(
      c,
      { ...consumed, remoteStatic: consumed.remoteStatic },
      hex(V.resp_ephemeral),
      psk,
      hex(V.messages[1].payload),
    );
    expect(resp).not.toBeNull();
    if (resp === null) return;
    const msg1 = concat(resp.ephemeral, resp.encryptedPayload);
    expect(toHex(msg1)).toBe(V.messages[1].ciphertext);

    const done = consumeResponse(
      c,
      init.state,
      iStatic,
      msg1.subarray(0, 32),
      msg1.subarray(32),
      psk,
    );
    expect(done).not.toBeNull();
    if (done === null) return;
    expect(toHex(done.payload)).toBe(V.messages[1].payload);
    expect(toHex(done.hash)).toBe(V.handshake_hash);
    expect(toHex(resp.hash)).toBe(V.handshake_hash);

    // Split: the initiator sends with the first key, the responder with the second; nonce = counter.
    const [iSend, iRecv] = deriveTransportKeys(c, done.chainKey);
    const [rRecv, rSend] = deriveTransportKeys(c, resp.chainKey);
    expect(toHex(iSend)).toBe(toHex(rRecv));
    expect(toHex(iRecv)).toBe(toHex(rSend));
    const plan: Array<[Uint8Array, bigint]> = [
      [iSend, 0n],
      [rSend, 0n],
      [iSend, 1n],
      [rSend, 1n],
    ];
    plan.forEach(([key, n], i) => {
      const m = V.messages[i + 2];
      expect(toHex(seal(c, key, n, hex(m.payload)))).toBe(m.ciphertext);
    });
  });

  it("rejects a modified initiation and a response under the wrong psk", () => {
    const proto = noiseProtocol(c, CONSTRUCTION, IDENTIFIER);
    const iStatic = hex(V.init_static);
    const rStatic = hex(V.resp_static);
    const iPub = c.x25519PublicKey(iStatic);
    const rPub = c.x25519PublicKey(rStatic);
    const init = createInitiation(
      c,
      proto,
      iPub,
      rPub,
      c.x25519(iStatic, rPub),
      hex(V.init_ephemeral),
      new Uint8Array(12),
    );
    if (init === null) throw new Error("init");
    const bad = init.encryptedPayload.slice();
    bad[0] ^= 1;
    const lookup = (rs: Uint8Array) => c.x25519(rStatic, rs);
    expect(
      consumeInitiation(c, proto, rStatic, rPub, init.ephemeral, init.encryptedStatic, bad, lookup),
    ).toBe("decrypt-payload");
    const ok = consumeInitiation(
      c,
      proto,
      rStatic,
      rPub,
      init.ephemeral,
      init.encryptedStatic,
      init.encryptedPayload,
      lookup,
    );
    if (typeof ok === "string") throw new Error(ok);
    const resp = createResponse(
      c,
      ok,
      hex(V.resp_ephemeral),
      new Uint8Array(32),
      new Uint8Array(0),
    );
    if (resp === null) throw new Error("resp");
    expect(
      consumeResponse(c, init.state, iStatic, resp.ephemeral, resp.encryptedPayload, hex(V.psk)),
    ).toBeNull();
  });
});

describe("WireGuard initial chaining key and hash (reference §3)", () => {
  it("HASH(CONSTRUCTION) and HASH(that ‖ IDENTIFIER)", () => {
    const p = wireguardProtocol(portableCrypto);
    expect(toHex(p.chainKey)).toBe(
      "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36",
    );
    expect(toHex(p.hash)).toBe("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
  });
});
