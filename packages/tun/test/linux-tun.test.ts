/**
 * Real TUN devices in the root namespace, under names starting with `wst` and addresses in
 * 198.19.77.0/24, 198.19.78.0/24 and fd00:77::/64: all traffic goes into the TUN, i.e. to this
 * process; nothing leaves the host. Every interface is deleted in afterAll.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import dgram from "node:dgram";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describePrivileged, requireTool } from "../../../test/support/privileged.js";
import { attachTunFd, type LinuxTun, openLinuxTun, openTunFromEnv } from "../src/index.js";
import { nativeTun } from "../src/native.js";
import { ipv4Bytes, ipv6Bytes, parseUdp, udp4, udp6 } from "./ip-packets.js";

const tag = String(process.pid % 1_000_000);
const ifname = (suffix: string) => `wst${tag}${suffix}`;
const created = new Set<string>();
const child = fileURLToPath(new URL("./fixtures/tun-child.ts", import.meta.url));

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}
function exists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}
function sysfs(name: string, attr: string): string {
  return readFileSync(`/sys/class/net/${name}/${attr}`, "utf8").trim();
}
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
function sendAll(sock: dgram.Socket, msgs: Uint8Array[], port: number, host: string) {
  return Promise.all(
    msgs.map(
      (m) => new Promise<void>((res, rej) => sock.send(m, port, host, (e) => (e ? rej(e) : res()))),
    ),
  );
}
function bind(type: "udp4" | "udp6", address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  return new Promise((res, rej) => {
    s.once("error", rej);
    s.bind(0, address, () => res(s));
  });
}

function runChild(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", child, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}
function exitOf(p: ChildProcess): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    let out = "";
    p.stdout?.on("data", (d) => {
      out += d;
    });
    p.on("exit", (code) => res({ code, out }));
  });
}

afterAll(() => {
  for (const name of created) {
    try {
      ip("link", "del", name);
    } catch {
      // already gone
    }
  }
});

describePrivileged("LinuxTun: packets through a real TUN", () => {
  const name = ifname("a");
  let tun: LinuxTun;
  /** Copies of packets read, kept with the size of the batch they came in. */
  const received: Array<{ packet: Uint8Array; batch: number }> = [];
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    requireTool("ip");
    created.add(name);
    tun = await openLinuxTun({ name, mtu: 1400 });
    ip("addr", "add", "198.19.77.1/24", "dev", name);
    ip("-6", "addr", "add", "fd00:77::1/64", "dev", name, "nodad");
    // The TUN's queue holds txqueuelen packets; room for the 500-datagram burst below.
    ip("link", "set", name, "txqueuelen", "2000");
    tun.onPackets((packets) => {
      for (const p of packets) received.push({ packet: p.slice(), batch: packets.length });
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await tun?.close();
  });

  const toPort = (port: number) =>
    received.map((r) => ({ ...r, udp: parseUdp(r.packet) })).filter((r) => r.udp?.dport === port);

  it("creates the interface with the requested name and MTU, up", () => {
    expect(tun.name).toBe(name);
    expect(tun.mtu).toBe(1400);
    expect(sysfs(name, "mtu")).toBe("1400");
    expect(Number(sysfs(name, "flags")) & 1).toBe(1); // IFF_UP
    expect(execFileSync("ip", ["-d", "link", "show", name]).toString()).toMatch(
      /tun type tun pi off/,
    );
  });

  it("reads a UDP datagram routed to the interface as a valid IPv4 packet", async () => {
    const s = await bind("udp4", "198.19.77.1");
    sockets.push(s);
    const payload = Buffer.from("wirespan tun read v4");
    await sendAll(s, [payload], 9999, "198.19.77.2");
    await until(() => toPort(9999).length > 0, "the datagram on the TUN");
    const { udp } = toPort(9999)[0];
    expect(udp?.version).toBe(4);
    expect(udp?.headerChecksumOk).toBe(true);
    expect(bytesEqual(udp?.dst ?? new Uint8Array(), ipv4Bytes("198.19.77.2"))).toBe(true);
    expect(bytesEqual(udp?.src ?? new Uint8Array(), ipv4Bytes("198.19.77.1"))).toBe(true);
    expect(Buffer.from(udp?.payload ?? []).toString()).toBe("wirespan tun read v4");
  });

  it("writes a crafted IPv4 UDP packet that a local socket receives; drops invalid ones", async () => {
    const s = await bind("udp4", "198.19.77.1");
    sockets.push(s);
    const port = s.address().port;
    const got = new Promise<{ msg: Buffer; from: dgram.RemoteInfo }>((res) =>
      s.once("message", (msg, from) => res({ msg, from })),
    );
    const before = tun.stats();
    const garbage = Uint8Array.from([0x00, 1, 2, 3]); // version 0: the kernel answers EINVAL
    tun.write([garbage, udp4("198.19.77.2", "198.19.77.1", 7777, port, Buffer.from("hello v4"))]);
    const { msg, from } = await got;
    expect(msg.toString()).toBe("hello v4");
    expect([from.address, from.port]).toEqual(["198.19.77.2", 7777]);
    const after = tun.stats();
    expect(after.packetsWritten - before.packetsWritten).toBe(1);
    expect(after.writeDrops - before.writeDrops).toBe(1);
  });

  it("reads and writes IPv6 packets (fd00:77::/64)", async () => {
    const s = await bind("udp6", "fd00:77::1");
    sockets.push(s);
    await sendAll(s, [Buffer.from("v6 out")], 9997, "fd00:77::2");
    await until(() => toPort(9997).length > 0, "the IPv6 datagram on the TUN");
    const { udp } = toPort(9997)[0];
    expect(udp?.version).toBe(6);
    expect(bytesEqual(udp?.dst ?? new Uint8Array(), ipv6Bytes("fd00:77::2"))).toBe(true);
    expect(Buffer.from(udp?.payload ?? []).toString()).toBe("v6 out");

    const got = new Promise<{ msg: Buffer; from: dgram.RemoteInfo }>((res) =>
      s.once("message", (msg, from) => res({ msg, from })),
    );
    tun.write([udp6("fd00:77::2", "fd00:77::1", 7778, s.address().port, Buffer.from("v6 in"))]);
    const { msg, from } = await got;
    expect(msg.toString()).toBe("v6 in");
    expect([from.address, from.port]).toEqual(["fd00:77::2", 7778]);
  });

  it("delivers a burst of 500 datagrams completely, in batches of more than one", async () => {
    const s = await bind("udp4", "198.19.77.1");
    sockets.push(s);
    const before = tun.stats();
    const msgs = Array.from({ length: 500 }, (_, i) => {
      const b = Buffer.alloc(64);
      b.writeUInt32BE(i, 0);
      return b;
    });
    await sendAll(s, msgs, 9998, "198.19.77.2");
    await until(() => toPort(9998).length >= 500, "500 datagrams on the TUN");
    const seqs = new Set(
      toPort(9998).map((r) => Buffer.from(r.udp?.payload ?? []).readUInt32BE(0)),
    );
    expect(seqs.size).toBe(500);
    expect(Math.max(...toPort(9998).map((r) => r.batch))).toBeGreaterThan(1);
    const after = tun.stats();
    expect(after.packetsRead - before.packetsRead).toBeGreaterThanOrEqual(500);
    expect(after.readBatches - before.readBatches).toBeLessThan(
      after.packetsRead - before.packetsRead,
    );
    expect(after.maxBatch).toBeLessThanOrEqual(128);
  });

  it("refuses to open an interface another descriptor holds (EBUSY)", async () => {
    await expect(openLinuxTun({ name })).rejects.toMatchObject({
      code: "EBUSY",
      message: expect.stringContaining("already attached"),
    });
  });
});

describePrivileged("LinuxTun: lifecycle", () => {
  it("close() fires onClose(null) and removes a non-persistent interface", async () => {
    const name = ifname("b");
    created.add(name);
    const tun = await openLinuxTun({ name });
    tun.onPackets(() => {});
    const reasons: Array<Error | null> = [];
    tun.onClose((r) => reasons.push(r));
    expect(exists(name)).toBe(true);
    await tun.close();
    expect(exists(name)).toBe(false);
    expect(reasons).toEqual([null]);
    tun.write([udp4("198.19.77.2", "198.19.77.1", 1, 2, new Uint8Array(1))]); // no throw
    expect(tun.stats().writeDrops).toBe(1);
  });

  it("fires onClose with an error when the interface is deleted, even before reading", async () => {
    const name = ifname("c");
    created.add(name);
    const tun = await openLinuxTun({ name });
    const closed = new Promise<Error | null>((res) => tun.onClose(res));
    ip("link", "del", name);
    const reason = await closed;
    expect(reason).toBeInstanceOf(Error);
    expect(reason?.message).toContain(`${name} disappeared`);
    await tun.close(); // idempotent after the fact
  });

  it("fires onClose when the interface is deleted while reading", async () => {
    const name = ifname("d");
    created.add(name);
    const tun = await openLinuxTun({ name });
    tun.onPackets(() => {});
    const closed = new Promise<Error | null>((res) => tun.onClose(res));
    ip("link", "del", name);
    expect(await closed).toBeInstanceOf(Error);
  });

  it("a process exits by itself after close() (no dangling handles)", async () => {
    const name = ifname("e");
    created.add(name);
    const p = runChild(["open-close", name]);
    const { code, out } = await exitOf(p);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ closed: true });
    expect(exists(name)).toBe(false);
  });

  it("an open device keeps its process alive; killing it removes the interface", async () => {
    const name = ifname("f");
    created.add(name);
    const p = runChild(["open-hold", name]);
    const exited = exitOf(p);
    let out = "";
    p.stdout?.on("data", (d) => (out += d));
    await until(() => out.includes("open"), "the child to open its TUN", 10_000);
    await sleep(500);
    expect(p.exitCode).toBeNull();
    expect(exists(name)).toBe(true);
    p.kill("SIGTERM");
    await exited;
    await until(() => !exists(name), "the interface to disappear");
  });
});

describePrivileged("LinuxTun: attaching", () => {
  it("attaches to a persistent interface by name and leaves it in place on close", async () => {
    const name = ifname("p");
    created.add(name);
    ip("tuntap", "add", "dev", name, "mode", "tun");
    const tun = await openLinuxTun({ name, mtu: 1300 });
    expect(sysfs(name, "mtu")).toBe("1300");
    expect(Number(sysfs(name, "flags")) & 1).toBe(1);
    await tun.close();
    expect(exists(name)).toBe(true);
  });

  it("attachTunFd adopts a descriptor, reads its name, and passes packets", async () => {
    const name = ifname("g");
    created.add(name);
    const fd = nativeTun().openTun(name);
    const tun = await attachTunFd(fd, { mtu: 1280, up: true });
    try {
      expect(tun.name).toBe(name);
      expect(tun.mtu).toBe(1280);
      ip("addr", "add", "198.19.78.1/24", "dev", name);
      const seen: Uint8Array[] = [];
      tun.onPackets((ps) => {
        for (const p of ps) seen.push(p.slice());
      });
      const s = await bind("udp4", "198.19.78.1");
      await sendAll(s, [Buffer.from("fd")], 9996, "198.19.78.2");
      s.close();
      await until(() => seen.some((p) => parseUdp(p)?.dport === 9996), "the datagram");
    } finally {
      await tun.close();
    }
    expect(exists(name)).toBe(false);
  });

  it("openTunFromEnv uses WG_TUN_FD when set (its name wins) and opens by name otherwise", async () => {
    const fromEnv = ifname("h");
    const byName = ifname("i");
    created.add(fromEnv);
    created.add(byName);
    const fd = nativeTun().openTun(fromEnv);
    const a = await openTunFromEnv(byName, { env: { WG_TUN_FD: String(fd) } });
    const b = await openTunFromEnv(byName, { env: {} });
    expect([a.name, b.name]).toEqual([fromEnv, byName]);
    expect(exists(byName)).toBe(true);
    await a.close();
    await b.close();
  });

  it("rejects descriptors that are not TUN devices and names that are not TUN interfaces", async () => {
    const fd = openSync("/dev/null", "r");
    try {
      await expect(attachTunFd(fd)).rejects.toThrow(/not an attached TUN device/);
    } finally {
      closeSync(fd);
    }
    const tap = ifname("x");
    created.add(tap);
    ip("tuntap", "add", "dev", tap, "mode", "tap");
    await expect(openLinuxTun({ name: tap })).rejects.toMatchObject({
      code: "EINVAL",
      message: expect.stringContaining("not a TUN device"),
    });
  });

  it("without CAP_NET_ADMIN: attaches to an interface made for it, cannot create one", async () => {
    // setpriv (util-linux) drops CAP_NET_ADMIN from the bounding and inheritable sets, so the
    // child runs as uid 0 without it: the owner check of tun.c (tun_not_capable) then decides.
    requireTool("setpriv");
    const mine = ifname("u");
    created.add(mine);
    ip("tuntap", "add", "dev", mine, "mode", "tun", "user", "0");
    const run = async (name: string) => {
      const p = spawn(
        "setpriv",
        [
          "--inh-caps=-net_admin",
          "--bounding-set=-net_admin",
          process.execPath,
          "--import",
          "tsx",
          child,
          "open",
          name,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const { code, out } = await exitOf(p);
      expect(code).toBe(0);
      return JSON.parse(out);
    };
    // Attach works; MTU and up need CAP_NET_ADMIN, so they stay as the administrator left them.
    expect(await run(mine)).toEqual({
      name: mine,
      mtu: 1500,
      warnings: ["WIRESPAN_TUN_MTU", "WIRESPAN_TUN_DOWN"],
    });
    expect(exists(mine)).toBe(true);
    const other = ifname("v");
    created.add(other);
    const denied = await run(other);
    expect(denied.code).toBe("EPERM");
    expect(denied.error).toContain(`needs CAP_NET_ADMIN`);
    expect(denied.error).toContain(`ip tuntap add dev ${other} mode tun user $USER`);
    expect(exists(other)).toBe(false);
  });
});

describe("openLinuxTun input checks", () => {
  it("rejects bad names, MTUs, batch sizes and WG_TUN_FD values with clear errors", async () => {
    await expect(openLinuxTun({ name: "" })).rejects.toThrow(TypeError);
    await expect(openLinuxTun({ name: "a/b" })).rejects.toThrow(/invalid interface name/);
    await expect(openLinuxTun({ name: "wst-name-too-long" })).rejects.toThrow(/1 to 15 bytes/);
    await expect(openLinuxTun({ name: "wst0", mtu: 20 })).rejects.toThrow(RangeError);
    await expect(openLinuxTun({ name: "wst0", batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(attachTunFd(-1)).rejects.toThrow(/invalid file descriptor/);
    await expect(openTunFromEnv("wst0", { env: { WG_TUN_FD: "3x" } })).rejects.toThrow(/WG_TUN_FD/);
  });
});
