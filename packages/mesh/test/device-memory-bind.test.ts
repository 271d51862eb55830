/**
 * Devices over the in-memory bind and TUN twins (wireguard-go's TestTwoDevicePing idea): no
 * sockets, so a test can cut the wire, watch what crosses it, or move a peer to a new address.
 */
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";
import { describe, expect, it } from "vitest";
import { BindError } from "../src/bind/bind.js";
import { MemoryNetwork } from "../src/bind/memory-bind.js";
import { Device } from "../src/device.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function keypair() {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: hex(sk), pk: hex(nodeCrypto.x25519PublicKey(sk)) };
}

/** A minimal IPv4 packet (header only, protocol 253 "experimental") from src to dst. */
function ipv4(src: number, dst: number, id: number): Uint8Array {
  const p = new Uint8Array(24);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, id);
  p[8] = 64;
  p[9] = 253;
  p.set([198, 19, 2, src], 12);
  p.set([198, 19, 2, dst], 16);
  return p;
}

function delivered(tun: MemoryTun, id: number, timeout = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const match = (ps: Uint8Array[]) =>
      ps.some((p) => new DataView(p.buffer, p.byteOffset).getUint16(4) === id);
    if (match(tun.written)) return resolve(true);
    const t = setTimeout(() => resolve(false), timeout);
    tun.onWrite((ps) => {
      if (match(ps)) {
        clearTimeout(t);
        resolve(true);
      }
    });
  });
}

async function pair(net: MemoryNetwork) {
  const ka = keypair();
  const kb = keypair();
  const ba = net.bind("198.18.7.1");
  const bb = net.bind("198.18.7.2");
  const tunA = new MemoryTun("wsd-ma");
  const tunB = new MemoryTun("wsd-mb");
  const a = await Device.create({ tun: tunA, bind: ba, listenPort: 51820 });
  const b = await Device.create({ tun: tunB, bind: bb, listenPort: 51820 });
  expect(
    await a.ipcSet(
      `private_key=${ka.sk}\npublic_key=${kb.pk}\nendpoint=198.18.7.2:51820\nallowed_ip=198.19.2.2/32\n`,
    ),
  ).toBe(0);
  expect(
    await b.ipcSet(
      `private_key=${kb.sk}\npublic_key=${ka.pk}\nendpoint=198.18.7.1:51820\nallowed_ip=198.19.2.1/32\n`,
    ),
  ).toBe(0);
  return { a, b, ba, bb, tunA, tunB, ka, kb };
}

describe("Devices over MemoryNetwork", () => {
  it("handshake and packets both ways without sockets", async () => {
    const net = new MemoryNetwork();
    const { a, b, tunA, tunB } = await pair(net);
    try {
      const got = delivered(tunB, 1);
      tunA.inject([ipv4(1, 2, 1)]);
      expect(await got).toBe(true);
      const back = delivered(tunA, 2);
      tunB.inject([ipv4(2, 1, 2)]);
      expect(await back).toBe(true);
      // Initiation, response, and one transport message each way: nothing else crossed.
      expect(net.delivered).toBe(4);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a cut wire carries nothing; mending it recovers through handshake retransmission", async () => {
    const net = new MemoryNetwork();
    const { a, b, tunA, tunB } = await pair(net);
    try {
      net.filter = () => false;
      tunA.inject([ipv4(1, 2, 3)]);
      expect(await delivered(tunB, 3, 300)).toBe(false);
      expect(net.dropped).toBeGreaterThan(0);
      net.filter = null;
      // Staged packets go out once the handshake completes (REKEY_TIMEOUT 5 s + jitter).
      expect(await delivered(tunB, 3, 7_000)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  }, 10_000);

  it("a port in use on the network fails listen_port with -EADDRINUSE", async () => {
    const net = new MemoryNetwork();
    const { a, b, ba } = await pair(net);
    try {
      const squatter = net.bind("198.18.7.1");
      await squatter.open(51821);
      expect(await a.ipcSet("listen_port=51821\n")).toBe(-98);
      expect(ba.port).toBe(51820);
      await expect(squatter.open(51821)).resolves.toBe(51821);
      const other = net.bind("198.18.7.1");
      await expect(other.open(51821)).rejects.toBeInstanceOf(BindError);
      expect(await a.ipcSet("listen_port=0\n")).toBe(0);
      expect(ba.port).toBeGreaterThanOrEqual(40000);
      expect(a.ipcGet()).toContain(`listen_port=${ba.port}\n`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
