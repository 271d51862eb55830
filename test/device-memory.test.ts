/**
 * Two in-process Devices over MemoryTun and real loopback UDP, configured only through the UAPI
 * text protocol (ipcSet/ipcGet), as wireguard-go's TestTwoDevicePing does with its twins.
 */
import { createSocket } from "node:dgram";
import { Device } from "@wirespan/mesh";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function keypair() {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: hex(sk), pk: hex(nodeCrypto.x25519PublicKey(sk)) };
}

function parseIp4(s: string): number[] {
  return s.split(".").map(Number);
}

function parseIp6(s: string): number[] {
  const [head, tail] = s.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.flatMap((g) => {
    const v = Number.parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/** An IPv4 UDP packet with a valid header checksum. */
function ipv4(src: string, dst: string, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  p.set(parseIp4(src), 12);
  p.set(parseIp4(dst), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, 40000);
  v.setUint16(22, 40001);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  return p;
}

/** An IPv6 UDP packet (checksum not needed by the tunnel). */
function ipv6(src: string, dst: string, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(48 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x60;
  v.setUint16(4, 8 + payload.length);
  p[6] = 17;
  p[7] = 64;
  p.set(parseIp6(src), 8);
  p.set(parseIp6(dst), 24);
  v.setUint16(40, 40000);
  v.setUint16(42, 40001);
  v.setUint16(44, 8 + payload.length);
  p.set(payload, 48);
  return p;
}

/** Resolves with the first packet written to `tun` that equals `want`. */
function expectDelivery(tun: MemoryTun, want: Uint8Array, timeout = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("packet not delivered")), timeout);
    const check = (ps: Uint8Array[]) => {
      if (ps.some((p) => Buffer.from(p).equals(Buffer.from(want)))) {
        clearTimeout(t);
        resolve();
      }
    };
    check(tun.written);
    tun.onWrite(check);
  });
}

function getMap(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split("\n").filter(Boolean)) {
    const i = line.indexOf("=");
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1)]);
  }
  return m;
}

async function freePort(): Promise<number> {
  const s = createSocket("udp6");
  await new Promise<void>((r) => s.bind(0, "::", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("two Devices over loopback UDP and MemoryTun", () => {
  const ka = keypair();
  const kb = keypair();
  const tunA = new MemoryTun("wsd-mema");
  const tunB = new MemoryTun("wsd-memb");
  let a: Device;
  let b: Device;
  const payload = new TextEncoder().encode("wirespan says hello");

  beforeAll(async () => {
    a = await Device.create({ tun: tunA, listenPort: 0 });
    b = await Device.create({ tun: tunB, listenPort: 0 });
    expect(await a.ipcSet(`set=1\nprivate_key=${ka.sk}\nlisten_port=0\n\n`)).toBe(0);
    expect(await b.ipcSet(`set=1\nprivate_key=${kb.sk}\nlisten_port=0\n\n`)).toBe(0);
    expect(
      await a.ipcSet(
        `public_key=${kb.pk}\nendpoint=127.0.0.1:${b.listenPort}\nallowed_ip=198.19.1.2/32\nallowed_ip=fd00:19:1::2/128\n`,
      ),
    ).toBe(0);
    expect(
      await b.ipcSet(
        `public_key=${ka.pk}\nendpoint=127.0.0.1:${a.listenPort}\nallowed_ip=198.19.1.1/32\nallowed_ip=fd00:19:1::1/128\n`,
      ),
    ).toBe(0);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("handshakes and carries IPv4 and IPv6 packets both ways", async () => {
    const events: string[] = [];
    a.onEvent((_peer, e) => events.push(e.type));
    const p1 = ipv4("198.19.1.1", "198.19.1.2", payload);
    const got1 = expectDelivery(tunB, p1);
    tunA.inject([p1]);
    await got1;
    expect(events).toContain("handshake-completed");

    const p2 = ipv4("198.19.1.2", "198.19.1.1", payload);
    const got2 = expectDelivery(tunA, p2);
    tunB.inject([p2]);
    await got2;

    const p3 = ipv6("fd00:19:1::1", "fd00:19:1::2", payload);
    const got3 = expectDelivery(tunB, p3);
    tunA.inject([p3]);
    await got3;

    const p4 = ipv6("fd00:19:1::2", "fd00:19:1::1", payload);
    const got4 = expectDelivery(tunA, p4);
    tunB.inject([p4]);
    await got4;
  });

  it("drops packets whose inner source is not the sender's allowed IP", async () => {
    const spoofed = ipv4("198.19.1.99", "198.19.1.2", payload);
    // B routes replies to 198.19.1.99 nowhere; A routes by destination so it is sent, and B
    // must refuse to deliver it.
    tunA.inject([spoofed]);
    await expect(expectDelivery(tunB, spoofed, 500)).rejects.toThrow("not delivered");
  });

  it("reports endpoint, handshake time and counters through ipcGet", () => {
    const g = getMap(a.ipcGet());
    expect(a.ipcGet().endsWith("errno=0\n")).toBe(true);
    expect(g.get("private_key")).toEqual([ka.sk]);
    expect(g.get("listen_port")).toEqual([String(a.listenPort)]);
    expect(g.get("public_key")).toEqual([kb.pk]);
    expect(g.get("endpoint")).toEqual([`127.0.0.1:${b.listenPort}`]);
    const sec = Number(g.get("last_handshake_time_sec")?.[0]);
    expect(Math.abs(sec - Date.now() / 1000)).toBeLessThan(30);
    expect(Number(g.get("tx_bytes")?.[0])).toBeGreaterThan(0);
    expect(Number(g.get("rx_bytes")?.[0])).toBeGreaterThan(0);
    expect(g.get("allowed_ip")?.sort()).toEqual(["198.19.1.2/32", "fd00:19:1::2/128"]);
  });

  it("a failing set changes nothing, listen_port included", async () => {
    const before = a.ipcGet();
    const port = a.listenPort;
    const other = await freePort();
    const bad = [
      `listen_port=${other}`,
      `public_key=${kb.pk}`,
      "replace_allowed_ips=true",
      "allowed_ip=198.19.9.9/32",
      "no_such_key=1",
      "endpoint=198.18.9.9:1",
    ].join("\n");
    expect(await a.ipcSet(`set=1\n${bad}\n\n`)).toBe(-22);
    expect(await a.ipcSet(`set=1\npublic_key=${kb.pk}\nallowed_ip=198.19.0.0/33\n\n`)).toBe(-22);
    expect(await a.ipcSet(`set=1\npublic_key=zz\n\n`)).toBe(-22);
    expect(a.listenPort).toBe(port);
    expect(a.ipcGet()).toBe(before);

    // A port in use: -EADDRINUSE, the rest of the request not applied either.
    const squatter = createSocket("udp6");
    await new Promise<void>((r) => squatter.bind(other, "::", r));
    try {
      expect(
        await a.ipcSet(
          `set=1\nlisten_port=${other}\nfwmark=0\npublic_key=${kb.pk}\nremove=true\n\n`,
        ),
      ).toBe(-98);
      expect(a.ipcGet()).toBe(before);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it("rebinds on listen_port and the peer follows from authenticated packets", async () => {
    const port = await freePort();
    expect(await a.ipcSet(`set=1\nlisten_port=${port}\n\n`)).toBe(0);
    expect(a.listenPort).toBe(port);
    expect(getMap(a.ipcGet()).get("listen_port")).toEqual([String(port)]);

    // A speaks first from its new port; B updates A's endpoint (roaming) and answers there.
    const p1 = ipv4("198.19.1.1", "198.19.1.2", payload.subarray(0, 5));
    const got1 = expectDelivery(tunB, p1);
    tunA.inject([p1]);
    await got1;
    expect(getMap(b.ipcGet()).get("endpoint")).toEqual([`127.0.0.1:${port}`]);
    const p2 = ipv4("198.19.1.2", "198.19.1.1", payload.subarray(0, 5));
    const got2 = expectDelivery(tunA, p2);
    tunB.inject([p2]);
    await got2;
  });

  it("removing the peer stops traffic; re-adding it restores it", async () => {
    expect(await a.ipcSet(`set=1\npublic_key=${kb.pk}\nremove=true\n\n`)).toBe(0);
    expect(getMap(a.ipcGet()).get("public_key")).toBeUndefined();
    const p = ipv4("198.19.1.1", "198.19.1.2", payload.subarray(0, 7));
    tunA.inject([p]);
    await expect(expectDelivery(tunB, p, 300)).rejects.toThrow("not delivered");
    expect(
      await a.ipcSet(
        `set=1\npublic_key=${kb.pk}\nendpoint=127.0.0.1:${b.listenPort}\nallowed_ip=198.19.1.2/32\n\n`,
      ),
    ).toBe(0);
    const q = ipv4("198.19.1.1", "198.19.1.2", payload.subarray(0, 8));
    const got = expectDelivery(tunB, q);
    tunA.inject([q]);
    await got;
  });

  it("sends persistent keepalives from its one timer", async () => {
    const rx = () => Number(getMap(b.ipcGet()).get("rx_bytes")?.[0]);
    expect(await a.ipcSet(`set=1\npublic_key=${kb.pk}\npersistent_keepalive_interval=1\n\n`)).toBe(
      0,
    );
    expect(getMap(a.ipcGet()).get("persistent_keepalive_interval")).toEqual(["1"]);
    const start = rx();
    // A keepalive is an empty transport message (32 bytes on the wire); two arrive within ~2 s
    // with no traffic and no other input that could wake the device.
    const deadline = Date.now() + 4_000;
    while (rx() - start < 64 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(rx() - start).toBeGreaterThanOrEqual(64);
    expect(await a.ipcSet(`set=1\npublic_key=${kb.pk}\npersistent_keepalive_interval=0\n\n`)).toBe(
      0,
    );
  });

  it("stops when its interface disappears, and says why", async () => {
    const tun = new MemoryTun("wsd-memc");
    const d = await Device.create({ tun, listenPort: 0 });
    expect(d.listenPort).toBeGreaterThan(0);
    const closed = new Promise<Error | null>((r) => d.onClose(r));
    tun.fail(new Error("link deleted"));
    expect((await closed)?.message).toBe("link deleted");
    expect(d.listenPort).toBe(0);
  });
});
