/**
 * The netstack against the Linux kernel's TCP/IP: a Device on a NetstackTun, in a process with
 * every capability dropped (setpriv: empty bounding/inheritable/ambient sets, no_new_privs) and,
 * when the checkout is readable by others, running as `nobody` — it cannot create a TUN
 * interface (checked) — talks through a
 * real WireGuard tunnel to wireguard-go in a namespace whose services use the kernel's stack
 * (test/netstack/kernel-services.ts). Underlay 198.18.0.1 (netstack side) / .2 (wireguard-go);
 * overlay 198.19.0.2 + fd00:19::2 (netstack) and 198.19.0.1 + fd00:19::1 (kernel).
 *
 * Bulk sizes: NETSTACK_BULK_MB (default 200) each way clean; NETSTACK_FAULT_MB (default 200; about
 * 40 s a case here, smaller values for a quicker local run) each way under 2 % loss (nftables numgen on the underlay) and under reordering + duplication
 * (test/netstack/udp-relay.ts between the two WireGuard endpoints).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AgentProcess } from "./netstack/agent-process.js";
import { streamSha } from "./netstack/stream-data.js";
import { type Daemon, NetnsPair, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";
import { genkey, startDaemon } from "./support/wg.js";

const MB = 1 << 20;
const BULK = Number(process.env.NETSTACK_BULK_MB ?? 200) * MB;
const FAULT = Number(process.env.NETSTACK_FAULT_MB ?? 200) * MB;
const IFNAME = "wsn0";
const RELAY_PORT = 40000;
/** `nobody` can read the checkout (and node_modules) only if every directory above it is o+x. */
function readableByOthers(path: string): boolean {
  for (let p = path; p !== dirname(p); p = dirname(p))
    if ((statSync(p).mode & 0o005) !== 0o005) return false;
  return true;
}
const ASNOBODY = readableByOthers(join(import.meta.dirname, ".."));
const b64hex = (k: string) => Buffer.from(k, "base64").toString("hex");

interface Bulk {
  sha: string;
  ms: number;
}

describePrivileged("netstack Device ↔ wireguard-go ↔ Linux kernel TCP/IP", () => {
  const lab = new NetnsPair("wsn");
  let agent: AgentProcess;
  let services: Daemon;
  let wgPub = "";
  const dir = mkdtempSync(join(tmpdir(), "wsn-"));

  const mbps = (bytes: number, ms: number) => ((bytes * 8) / (ms * 1000)).toFixed(0);

  async function bulkBothWays(label: string, bytes: number): Promise<void> {
    const seed = `${label}-${Date.now()}`;
    const expected = streamSha(seed, bytes);
    const up = await agent.call<Bulk>("upload", { host: "198.19.0.1", bytes, seed });
    expect(up.sha).toBe(expected);
    const down = await agent.call<Bulk & { bytes: number }>("download", {
      host: "198.19.0.1",
      bytes,
      seed,
    });
    expect(down.bytes).toBe(bytes);
    expect(down.sha).toBe(expected);
    console.log(
      `${label}: ${bytes / MB} MB up ${mbps(bytes, up.ms)} Mbit/s, down ${mbps(bytes, down.ms)} Mbit/s`,
    );
  }

  beforeAll(async () => {
    for (const tool of ["wireguard-go", "wg", "setpriv", "nft", "curl"]) requireTool(tool);
    await lab.setup();
    const wgKey = await genkey(dir);
    const nsKey = await genkey(dir);
    wgPub = wgKey.pub;
    await startDaemon(lab, "wireguard-go", lab.b, IFNAME);
    await lab.must(lab.b, [
      "wg",
      "set",
      IFNAME,
      "private-key",
      wgKey.file,
      "listen-port",
      "51820",
      "peer",
      nsKey.pub,
      "allowed-ips",
      "198.19.0.2/32,fd00:19::2/128",
    ]);
    await lab.must(lab.b, ["ip", "addr", "add", "198.19.0.1/24", "dev", IFNAME]);
    await lab.must(lab.b, ["ip", "addr", "add", "fd00:19::1/64", "dev", IFNAME, "nodad"]);
    await lab.must(lab.b, ["ip", "link", "set", IFNAME, "mtu", "1420", "up"]);
    services = lab.spawn(lab.b, [
      process.execPath,
      "--import",
      "tsx",
      join(import.meta.dirname, "netstack/kernel-services.ts"),
    ]);
    await waitFor("kernel services", () => services.output().includes('"ready"'), 30_000);
    agent = new AgentProcess(lab.a, ASNOBODY);
    await agent.ready;
    const set = `set=1\nprivate_key=${b64hex(nsKey.key)}\npublic_key=${b64hex(wgKey.pub)}\nendpoint=${lab.underlay4.b}:51820\nallowed_ip=198.19.0.0/24\nallowed_ip=fd00:19::/64\n\n`;
    expect(await agent.call("ipcSet", { text: set })).toBe(0);
  }, 120_000);

  afterAll(async () => {
    agent?.stop();
    await lab.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs with no capabilities (as nobody where the checkout allows): it cannot create a TUN interface", async () => {
    const info = await agent.call<{ uid: number; capEff: string; tun: string }>("info");
    expect(info.uid).toBe(ASNOBODY ? 65534 : 0);
    expect(info.capEff).toBe("0000000000000000");
    expect(info.tun).not.toBe("opened");
  });

  it("pings the kernel through the tunnel (IPv4, IPv6) and answers the kernel's ping", async () => {
    expect((await agent.call<{ address: string }>("ping", { address: "198.19.0.1" })).address).toBe(
      "198.19.0.1",
    );
    expect((await agent.call<{ address: string }>("ping", { address: "fd00:19::1" })).address).toBe(
      "fd00:19::1",
    );
    await lab.must(lab.b, ["ping", "-c", "2", "-W", "2", "198.19.0.2"]);
    await lab.must(lab.b, ["ping", "-6", "-c", "2", "-W", "2", "fd00:19::2"]);
  });

  it("echoes UDP both ways (netstack → kernel and kernel → netstack)", async () => {
    expect(await agent.call("udpEcho", { host: "198.19.0.1", data: "v4 hello" })).toBe("v4 hello");
    expect(await agent.call("udpEcho", { host: "fd00:19::1", data: "v6 hello" })).toBe("v6 hello");
    await agent.call("serve");
    for (const [type, addr] of [
      ["udp4", "198.19.0.2"],
      ["udp6", "fd00:19::2"],
    ]) {
      const script = `const s=require("node:dgram").createSocket("${type}");s.on("message",m=>{console.log(String(m));process.exit(0)});s.send("from kernel",7,"${addr}");setTimeout(()=>process.exit(3),5000)`;
      expect((await lab.must(lab.b, [process.execPath, "-e", script])).trim()).toBe("from kernel");
    }
  });

  it("resolves names with the DNS server inside the tunnel", async () => {
    expect(await agent.call("lookup", { name: "svc.wirespan.test" })).toEqual([
      { address: "198.19.0.1", family: 4 },
      { address: "fd00:19::1", family: 6 },
    ]);
  });

  it("fetch() reaches the kernel's HTTP server through the stack, by address and by name", async () => {
    const r = await agent.call<{ status: number; body: string }>("fetch", {
      url: "http://198.19.0.1/by-address",
    });
    expect(r).toEqual({
      status: 200,
      body: "kernel says hello to ::ffff:198.19.0.2 for /by-address",
    });
    const n = await agent.call<{ status: number; body: string }>("fetch", {
      url: "http://svc.wirespan.test/by-name",
    });
    expect(n.body).toBe("kernel says hello to ::ffff:198.19.0.2 for /by-name");
  });

  it("serves curl from the kernel side (HTTP server on the netstack)", async () => {
    await waitFor(
      "netstack HTTP server",
      async () =>
        (await lab.exec(lab.b, ["curl", "-sf", "-m", "5", "http://198.19.0.2:8080/"])).code === 0,
      15_000,
    );
    expect(await lab.must(lab.b, ["curl", "-sf", "-m", "5", "http://198.19.0.2:8080/"])).toBe(
      "netstack says hello to 198.19.0.1",
    );
    expect(await lab.must(lab.b, ["curl", "-sf", "-m", "5", "http://[fd00:19::2]:8080/"])).toBe(
      "netstack says hello to fd00:19::1",
    );
  });

  it("gets ECONNREFUSED from a closed kernel port and ECONNRESET when the kernel resets mid-transfer", async () => {
    expect(await agent.call("connectError", { host: "198.19.0.1", port: 9 })).toEqual({
      code: "ECONNREFUSED",
    });
    expect(await agent.call("connectError", { host: "fd00:19::1", port: 9 })).toEqual({
      code: "ECONNREFUSED",
    });
    expect(await agent.call("connectError", { host: "198.19.0.1", port: 5004 })).toEqual({
      code: "ECONNRESET",
    });
  });

  it("half-closes both ways: replies after our FIN arrive, and we still send after the kernel's FIN", async () => {
    const seed = "half-close";
    const up = await agent.call<Bulk>("upload", { host: "198.19.0.1", bytes: MB, seed });
    expect(up.sha).toBe(streamSha(seed, MB));
    const down = await agent.call<Bulk>("download", {
      host: "198.19.0.1",
      bytes: MB,
      seed,
      after: 100_000,
    });
    expect(down.sha).toBe(streamSha(seed, MB));
    await waitFor("kernel received data sent after its FIN", () =>
      services.output().includes('{"event":"source-after-fin","bytes":100000}'),
    );
  });

  it(`moves ${BULK / MB} MB each way byte-exact (SHA-256)`, async () => {
    await bulkBothWays("clean", BULK);
  }, 300_000);

  it("holds 1,000 concurrent connections to the kernel", async () => {
    const r = await agent.call<{ ok: number; errors: string[] }>("many", {
      host: "198.19.0.1",
      count: 1000,
    });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(1000);
  }, 120_000);

  it(`stays byte-exact under 2 % random loss on the underlay (${FAULT / MB} MB each way)`, async () => {
    const table = `wsnloss`;
    const rules = `table inet ${table} {
      chain in { type filter hook input priority 0; udp dport 51820 numgen random mod 100 < 2 drop; }
      chain out { type filter hook output priority 0; udp sport 51820 numgen random mod 100 < 2 drop; }
    }`;
    await lab.must(lab.b, ["nft", "-f", "-"], { input: rules });
    try {
      await bulkBothWays("loss-2%", FAULT);
    } finally {
      await lab.must(lab.b, ["nft", "delete", "table", "inet", table]);
    }
  }, 600_000);

  it(`stays byte-exact with reordering (5 %) and duplication (2 %) between the endpoints (${FAULT / MB} MB each way)`, async () => {
    const relay = lab.spawn(lab.a, [
      process.execPath,
      "--import",
      "tsx",
      join(import.meta.dirname, "netstack/udp-relay.ts"),
      String(RELAY_PORT),
      lab.underlay4.b,
      "51820",
      "2",
      "5",
    ]);
    await waitFor("relay", () => relay.output().includes("ready"), 20_000);
    const via = (endpoint: string) => `public_key=${b64hex(wgPub)}\nendpoint=${endpoint}\n\n`;
    expect(
      await agent.call("ipcSet", { text: `set=1\n${via(`${lab.underlay4.a}:${RELAY_PORT}`)}` }),
    ).toBe(0);
    try {
      await bulkBothWays("reorder+dup", FAULT);
    } finally {
      await agent.call("ipcSet", { text: `set=1\n${via(`${lab.underlay4.b}:51820`)}` });
      await lab.stop(relay);
    }
  }, 600_000);
});
