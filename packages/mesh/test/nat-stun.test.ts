/**
 * STUN Binding codec (RFC 8489) and responder: the XOR-MAPPED-ADDRESS bytes of RFC 5769 §2.2's
 * IPv4 sample, round trips for both families, FINGERPRINT checked, WireGuard messages never
 * classified as STUN (reference/nat-relay.md §2.3), and the responder answering a real socket
 * with its source address.
 */

import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import {
  decodeStun,
  encodeBindingRequest,
  encodeBindingSuccess,
  isStun,
  StunBindingRequest,
  StunBindingSuccess,
} from "../src/nat/stun.js";
import { StunServer } from "../src/nat/stun-server.js";

describe("STUN codec", () => {
  it("encodes XOR-MAPPED-ADDRESS as RFC 5769 §2.2 does (192.0.2.1:32853)", () => {
    const txid = Uint8Array.from(Buffer.from("b7e7a701bc34d686fa87dfae", "hex"));
    const msg = encodeBindingSuccess(txid, { address: "192.0.2.1", port: 32853, family: 4 });
    // header 20 B, then type 0x0020 length 8, value 00 01 a1 47 e1 12 a6 43
    expect(Buffer.from(msg.subarray(20, 32)).toString("hex")).toBe("002000080001a147e112a643");
    expect(decodeStun(msg)?.mapped).toEqual({ address: "192.0.2.1", port: 32853, family: 4 });
  });

  it("round-trips requests and v4/v6 responses with a valid FINGERPRINT", () => {
    const txid = new Uint8Array(randomBytes(12));
    const req = encodeBindingRequest(txid);
    expect(req.length).toBe(28);
    expect(decodeStun(req)).toEqual({
      type: StunBindingRequest,
      transactionId: txid,
      mapped: null,
    });
    const v6 = { address: "fd00::1:2", port: 51820, family: 6 as const };
    const res = encodeBindingSuccess(txid, v6);
    expect(res.length).toBe(52);
    expect(decodeStun(res)).toEqual({ type: StunBindingSuccess, transactionId: txid, mapped: v6 });
    const bad = res.slice();
    bad[30] ^= 1; // inside XOR-MAPPED-ADDRESS: the fingerprint no longer matches
    expect(decodeStun(bad)).toBeNull();
  });

  it("never takes a WireGuard message for STUN", () => {
    for (const [type, size] of [
      [1, 148],
      [2, 92],
      [3, 64],
      [4, 32],
      [4, 1452],
    ] as const) {
      const wg = new Uint8Array(size);
      wg[0] = type;
      wg.set([0x21, 0x12, 0xa4, 0x42], 4); // even with the cookie where the index sits
      expect(isStun(wg)).toBe(false);
    }
  });
});

describe("STUN responder", () => {
  it("answers a Binding request with the source address and port it saw", async () => {
    const server = await StunServer.listen("127.0.0.1", 0);
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    try {
      const txid = new Uint8Array(randomBytes(12));
      const reply = new Promise<Buffer>((r) => sock.once("message", r));
      sock.send(Buffer.from([1, 2, 3]), server.port, "127.0.0.1"); // garbage: dropped, counted
      sock.send(encodeBindingRequest(txid), server.port, "127.0.0.1");
      const m = decodeStun(await reply);
      expect(m?.type).toBe(StunBindingSuccess);
      expect(m?.transactionId).toEqual(txid);
      expect(m?.mapped).toEqual({ address: "127.0.0.1", port: sock.address().port, family: 4 });
      expect(server.stats).toEqual({ requests: 1, dropped: 1 });
    } finally {
      sock.close();
      await server.close();
    }
  });
});
