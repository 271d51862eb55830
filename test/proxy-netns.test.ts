/**
 * `wirespan proxy` against wireguard-go, as an unprivileged user: the proxy runs as `nobody`
 * (no CAP_NET_ADMIN, no access to /dev/net/tun) in namespace `a`; wireguard-go runs in `b` with
 * the kernel's TCP/IP behind it (198.19.0.1): an HTTP origin, a TCP echo, a UDP echo and a DNS
 * server that knows `web.tunnel`. curl is the client of the SOCKS5 and HTTP proxies.
 *
 * Underlay 198.18.0.1 (a) ↔ 198.18.0.2 (b); overlay: proxy 198.19.0.2, wireguard-go 198.19.0.1.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Daemon, must, NetnsPair, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";
import { genkey, startInterface } from "./support/wg.js";

const WIRESPAN = join(import.meta.dirname, "../packages/mesh/bin/wirespan");
const PEER = join(import.meta.dirname, "support/proxy-peer.mjs");
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
const BULK = 100 * 1000 * 1000;
const SOCKS = 1080;
const HTTP = 8080;
const CLIENT_TUNNEL = 2000;
const SERVER_TUNNEL = 7000;
const LOCAL_ECHO = 9000;
const HEALTH = 9100;

describePrivileged("wirespan proxy (rootless) ↔ wireguard-go in a namespace", () => {
  const net = new NetnsPair("wsp");
  let dir = "";
  let proxy: Daemon;

  /** Runs a program in `ns` as nobody (the proxy's user) or as root (the far side). */
  const inA = (argv: string[], timeout = 20_000) =>
    net.exec(net.a, [...NOBODY, ...argv], { timeout });
  const curl = (args: string[]) => inA(["curl", "-sS", "--max-time", "15", ...args]);
  /** curl's HTTP status code for a request (the body is discarded). */
  const httpCode = async (args: string[]) =>
    (await curl(["-o", "/dev/null", "-w", "%{http_code}", ...args])).stdout;

  async function spawnReady(ns: string, argv: string[], what: string): Promise<Daemon> {
    const d = net.spawn(ns, argv);
    await waitFor(what, () => d.output().includes("ready"), 10_000);
    return d;
  }

  beforeAll(async () => {
    requireTool("wireguard-go");
    requireTool("curl");
    requireTool("setpriv");
    await net.setup();
    dir = mkdtempSync(join(tmpdir(), "wsp-"));
    net.paths.add(dir);
    chmodSync(dir, 0o755);
    // Far side: wireguard-go with the kernel's TCP/IP and its services.
    const near = await genkey(dir);
    const { key: far } = await startInterface(net, "wireguard-go", net.b, "wsp0", {
      dir,
      listenPort: 51820,
      address: "198.19.0.1/24",
      peers: [{ pub: near.pub, allowedIps: "198.19.0.2/32" }],
    });
    await spawnReady(net.b, ["node", PEER, "http", "198.19.0.1", "80"], "http");
    await spawnReady(net.b, ["node", PEER, "echo", "198.19.0.1", "7"], "tcp echo");
    await spawnReady(net.b, ["node", PEER, "udp-echo", "198.19.0.1", "7"], "udp echo");
    await spawnReady(
      net.b,
      ["node", PEER, "dns", "198.19.0.1", "53", "web.tunnel", "198.19.0.1"],
      "dns",
    );
    // Near side: a local service for the server tunnel, and the proxy, both as nobody.
    net.spawn(net.a, [...NOBODY, "node", PEER, "echo", "127.0.0.1", String(LOCAL_ECHO)]);
    const conf = join(dir, "proxy.conf");
    writeFileSync(
      conf,
      `[Interface]
PrivateKey = ${near.key}
Address = 198.19.0.2/32
DNS = 198.19.0.1

[Peer]
PublicKey = ${far.pub}
Endpoint = ${net.underlay4.b}:51820
AllowedIPs = 198.19.0.0/24
PersistentKeepalive = 25

[Socks5]
BindAddress = 127.0.0.1:${SOCKS}

[Socks5]
BindAddress = 127.0.0.1:${SOCKS + 1}
Username = alice
Password = s3cret

[http]
BindAddress = 127.0.0.1:${HTTP}

[http]
BindAddress = 127.0.0.1:${HTTP + 1}
Username = alice
Password = s3cret

[TCPClientTunnel]
BindAddress = 127.0.0.1:${CLIENT_TUNNEL}
Target = web.tunnel:7

[TCPServerTunnel]
ListenPort = ${SERVER_TUNNEL}
Target = 127.0.0.1:${LOCAL_ECHO}

[Health]
BindAddress = 127.0.0.1:${HEALTH}
`,
      { mode: 0o644 },
    );
    const check = await inA([WIRESPAN, "proxy", "-c", conf, "--configtest"]);
    expect(check.stdout).toContain("configuration OK");
    proxy = net.spawn(net.a, [...NOBODY, WIRESPAN, "proxy", "-c", conf]);
    await waitFor(
      "proxy started",
      () => proxy.output().includes("wirespan proxy: started"),
      20_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${proxy.output()}`);
    });
  }, 90_000);

  afterAll(async () => {
    await net.release();
  });

  it("runs without privileges", async () => {
    const pid = (await must(["ip", "netns", "pids", net.a])).split(/\s+/).filter(Boolean);
    const status = await Promise.all(
      pid.map((p) => must(["cat", `/proc/${p}/status`]).catch(() => "")),
    );
    const proxyStatus = status.find((s) => /Name:\s+node/.test(s) && /Uid:\s+65534/.test(s));
    expect(proxyStatus).toBeDefined();
    expect(proxyStatus).toMatch(/CapEff:\s+0+\n/);
  });

  it("carries curl through SOCKS5 with the name resolved inside the tunnel", async () => {
    const r = await curl(["--socks5-hostname", `127.0.0.1:${SOCKS}`, "http://web.tunnel/"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("hello from 198.19.0.1 GET /");
  });

  it("carries curl through the HTTP proxy, plain and CONNECT", async () => {
    for (const extra of [[], ["-p"]]) {
      expect(
        await httpCode([...extra, "-x", `http://127.0.0.1:${HTTP}`, "http://web.tunnel/"]),
      ).toBe("200");
    }
  });

  it("refuses wrong credentials and accepts right ones on both proxies", async () => {
    const url = "http://198.19.0.1/";
    const socks = ["--socks5-hostname", `127.0.0.1:${SOCKS + 1}`];
    const bad = await curl([...socks, "--proxy-user", "alice:nope", url]);
    expect(bad.code).not.toBe(0);
    expect(await httpCode([...socks, "--proxy-user", "alice:s3cret", url])).toBe("200");
    expect(await httpCode(["-x", `http://alice:nope@127.0.0.1:${HTTP + 1}`, url])).toBe("407");
    expect(await httpCode(["-x", `http://alice:s3cret@127.0.0.1:${HTTP + 1}`, url])).toBe("200");
  });

  it("exchanges UDP through SOCKS5 UDP ASSOCIATE", async () => {
    const r = await inA(["node", PEER, "socks-udp", String(SOCKS), "198.19.0.1", "7", "hello-udp"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("echo:hello-udp");
  });

  it("carries 100 MB each way byte-exact through a TCP client tunnel", async () => {
    const r = await inA(
      ["node", PEER, "bulk", "127.0.0.1", String(CLIENT_TUNNEL), String(BULK)],
      110_000,
    );
    expect(r.stderr).toBe("");
    const res = JSON.parse(r.stdout);
    expect(res.received).toBe(BULK);
    expect(res.receivedSha).toBe(res.sentSha);
  }, 120_000);

  it("carries 100 MB each way byte-exact through a TCP server tunnel to a local service", async () => {
    const r = await net.exec(
      net.b,
      ["node", PEER, "bulk", "198.19.0.2", String(SERVER_TUNNEL), String(BULK)],
      { timeout: 110_000 },
    );
    expect(r.stderr).toBe("");
    const res = JSON.parse(r.stdout);
    expect(res.received).toBe(BULK);
    expect(res.receivedSha).toBe(res.sentSha);
  }, 120_000);

  it("reports a fresh handshake on the health endpoint", async () => {
    const r = await curl(["-w", "\n%{http_code}", `http://127.0.0.1:${HEALTH}/healthz`]);
    expect(r.stdout.trim().split("\n").pop()).toBe("200");
    const m = await curl([`http://127.0.0.1:${HEALTH}/metrics`]);
    expect(m.stdout).toContain("wirespan_proxy_healthy 1");
    expect(m.stdout).toMatch(
      /wirespan_proxy_refused_total\{frontend="socks5",reason="auth_failed"\} 1/,
    );
  });
});
