/**
 * An MTU changed after the device started (`ip link set NAME mtu N`) reaches the Engine, as
 * wireguard-go follows its TUN's MTU events: transport padding is clamped to the new MTU
 * (whitepaper §5.4.6), and after a raise the TUN reader takes packets up to the new size instead
 * of dropping them as truncated. Seen from outside: the size of the encrypted datagrams on the
 * wire and the packets the peer's tunnel delivers. Addresses: underlay 198.18.8.0/24, overlay
 * 198.19.8.0/24 (the TUN's, in the root namespace: everything routed there goes to this process).
 */
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { type LinuxTun, MemoryTun, openLinuxTun, type TunDevice } from "@wirespan/tun";
import { afterAll, describe, expect, it } from "vitest";
import { describePrivileged, requireTool } from "../../../test/support/privileged.js";
import { MemoryNetwork } from "../src/bind/memory-bind.js";
import { Device } from "../src/device.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Type byte and header of a transport message (whitepaper §5.4.6): 16 bytes + 16-byte tag. */
const TRANSPORT = 4;
const OVERHEAD = 32;

function keypair() {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: hex(sk), pk: hex(nodeCrypto.x25519PublicKey(sk)) };
}

/** An IPv4 packet of `len` bytes (protocol 253, experimental) from 198.19.8.1 to .2. */
function ipv4(len: number, id: number): Uint8Array {
  const p = new Uint8Array(len);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, len);
  v.setUint16(4, id);
  p[8] = 64;
  p[9] = 253;
  p.set([198, 19, 8, 1], 12);
  p.set([198, 19, 8, 2], 16);
  return p;
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Device a (on `tunA`) and b (a MemoryTun) over an in-memory wire whose transport sizes a sees. */
async function pair(tunA: TunDevice) {
  const net = new MemoryNetwork();
  const sizes: number[] = [];
  net.filter = (from, _to, data) => {
    if (from.address === "198.18.8.1" && data[0] === TRANSPORT) sizes.push(data.length);
    return true;
  };
  const ka = keypair();
  const kb = keypair();
  const tunB = new MemoryTun("wsd-mtu-b");
  const a = await Device.create({ tun: tunA, bind: net.bind("198.18.8.1"), listenPort: 51820 });
  const b = await Device.create({ tun: tunB, bind: net.bind("198.18.8.2"), listenPort: 51820 });
  await a.ipcSet(
    `private_key=${ka.sk}\npublic_key=${kb.pk}\nendpoint=198.18.8.2:51820\nallowed_ip=198.19.8.2/32\n`,
  );
  await b.ipcSet(`private_key=${kb.sk}\npublic_key=${ka.pk}\nallowed_ip=198.19.8.1/32\n`);
  const close = async () => {
    await a.close();
    await b.close();
  };
  return { a, b, tunB, sizes, close };
}

describe("Device: an MTU change of its TUN reaches the Engine", () => {
  it("clamps padding to the new MTU (MemoryTun.setMtu stands for `ip link`)", async () => {
    const tun = new MemoryTun("wsd-mtu-a", 1420);
    const { tunB, sizes, close } = await pair(tun);
    try {
      // 1299 bytes pad to 1312 under MTU 1420; clamped to 1300 once the MTU is 1300.
      tun.inject([ipv4(1299, 1)]);
      await until(() => tunB.written.length === 1, "first packet");
      expect(sizes.at(-1)).toBe(OVERHEAD + 1312);
      tun.setMtu(1300);
      tun.inject([ipv4(1299, 2)]);
      await until(() => tunB.written.length === 2, "second packet");
      expect(sizes.at(-1)).toBe(OVERHEAD + 1300);
      expect(tunB.written[1]).toEqual(ipv4(1299, 2)); // padding trimmed on receive
    } finally {
      await close();
    }
  });
});

const tag = String(process.pid % 100_000);
const created: string[] = [];
afterAll(() => {
  for (const name of created) {
    try {
      execFileSync("ip", ["link", "del", name], { stdio: "ignore" });
    } catch {
      // gone with its descriptor
    }
  }
});

describePrivileged("Device on a real TUN: `ip link set … mtu` while running", () => {
  it("pads to a lowered MTU and carries packets up to a raised one", async () => {
    requireTool("ip");
    const name = `wsm${tag}mtu`;
    created.push(name);
    const tun: LinuxTun = await openLinuxTun({ name, mtu: 1420 });
    const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
    ip("addr", "add", "198.19.8.1/24", "dev", name);
    const { a, tunB, sizes, close } = await pair(tun);
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "198.19.8.1", () => r()));
    // A UDP datagram from the kernel into the TUN: IPv4 20 + UDP 8 + payload bytes.
    const send = (payload: number) =>
      new Promise<void>((res, rej) =>
        sock.send(Buffer.alloc(payload, 7), 9, "198.19.8.2", (e) => (e ? rej(e) : res())),
      );
    const got = (len: number) => tunB.written.some((p) => p.length === len);
    try {
      await send(1299 - 28);
      await until(() => got(1299), "1299-byte packet at MTU 1420");
      expect(sizes.at(-1)).toBe(OVERHEAD + 1312);

      ip("link", "set", "dev", name, "mtu", "1300");
      await until(() => tun.mtu === 1300, "MTU 1300 seen");
      await send(1299 - 28);
      await until(() => sizes.at(-1) === OVERHEAD + 1300, "padding clamped to 1300");

      // Far beyond the read slots sized for 1420: without growing them, the packet is dropped.
      ip("link", "set", "dev", name, "mtu", "9000");
      await until(() => tun.mtu === 9000, "MTU 9000 seen");
      await send(8000 - 28);
      await until(() => got(8000), "8000-byte packet through the tunnel");
      expect(tun.stats().readTruncated).toBe(0);
      expect(a.peers()[0].txBytes).toBeGreaterThan(8000n);
    } finally {
      sock.close();
      await close();
    }
  });
});
