/**
 * Interop: wirespan-wg against Debian's wireguard-go, in two network namespaces, configured only
 * with the stock `wg`, `ip` and `wg-quick` tools — the tools must not be able to tell the two
 * implementations apart.
 *
 * Underlay 198.18.0.1/2 and fd00:18::1/2 on a veth; overlay 198.19.0.1/2 and fd00:19::1/2.
 * The tests run in order and share the tunnel they build up.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type Daemon, must, NetnsPair, sleep, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";
import {
  type Impl,
  SOCK_DIR,
  sockPath,
  startDaemon,
  WIRESPAN_WG,
  genkey as wgGenkey,
} from "./support/wg.js";

interface Side {
  impl: Impl;
  ns: string;
  ifname: string;
  daemon: Daemon;
  pub: string;
  keyFile: string;
  port: number;
  overlay4: string;
  overlay6: string;
}

/** One peer line of `wg show IF dump`. */
interface DumpPeer {
  pub: string;
  psk: string;
  endpoint: string;
  allowedIps: string;
  latestHandshake: number;
  rx: number;
  tx: number;
  keepalive: string;
}

interface Dump {
  privateKey: string;
  publicKey: string;
  listenPort: number;
  fwmark: string;
  peers: DumpPeer[];
}

function parseDump(text: string): Dump {
  const [head, ...rest] = text.trim().split("\n");
  const [privateKey, publicKey, listenPort, fwmark] = head.split("\t");
  return {
    privateKey,
    publicKey,
    listenPort: Number(listenPort),
    fwmark,
    peers: rest.map((l) => {
      const f = l.split("\t");
      return {
        pub: f[0],
        psk: f[1],
        endpoint: f[2],
        allowedIps: f[3],
        latestHandshake: Number(f[4]),
        rx: Number(f[5]),
        tx: Number(f[6]),
        keepalive: f[7],
      };
    }),
  };
}

/** Raw UAPI exchange: writes `text`, half-closes, returns everything the daemon answered. */
function uapiRaw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    let out = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`UAPI exchange timed out; got ${JSON.stringify(out)}`));
    }, 5_000);
    c.on("data", (d) => {
      out += String(d);
    });
    c.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    c.on("close", () => {
      clearTimeout(t);
      resolve(out);
    });
    c.end(text);
  });
}

/** Sends 30,000 invalid datagrams at HOST PORT: bad lengths for every type, random indices, junk. */
const FUZZ_SCRIPT = `
import { createSocket } from "node:dgram";
import { randomBytes, randomInt } from "node:crypto";
const [host, port, count] = process.argv.slice(2);
const s = createSocket(host.includes(":") ? "udp6" : "udp4");
const sizes = { 1: 148, 2: 92, 3: 64, 4: 32 };
function datagram(i) {
  const kind = i % 6;
  if (kind < 4) {
    // Message type 1..4 with a length that is wrong for it (transport: shorter than minimum).
    const type = kind + 1;
    let len;
    do { len = randomInt(0, 200); } while (type === 4 ? len >= 32 : len === sizes[type]);
    const b = randomBytes(Math.max(len, 1)).subarray(0, len);
    if (len > 0) b[0] = type;
    if (len > 3) b[1] = b[2] = b[3] = 0;
    return b;
  }
  if (kind === 4) {
    // Correct length, correct header, random receiver index / random MACs.
    const type = randomInt(1, 5);
    const b = randomBytes(type === 4 ? 32 + 16 * randomInt(0, 80) : sizes[type]);
    b[0] = type; b[1] = b[2] = b[3] = 0;
    return b;
  }
  return randomBytes(randomInt(0, 1500));
}
let sent = 0, errors = 0;
const total = Number(count);
function burst() {
  for (let k = 0; k < 200 && sent < total; k++, sent++) {
    s.send(datagram(sent), Number(port), host, (e) => { if (e) errors++; });
  }
  if (sent < total) setTimeout(burst, 1);
  else setTimeout(() => { console.log(JSON.stringify({ sent, errors })); s.close(); }, 200);
}
burst();
`;

/**
 * Floods HOST:PORT from SRC with handshake initiations that carry a valid mac1 for PUB (so they
 * pass the cheap check and count as load) at PPS for SECONDS; counts the cookie replies.
 */
const FLOOD_SCRIPT = `
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
const [blake, host, port, pubB64, src, seconds, pps] = process.argv.slice(2);
const { blake2s } = await import(pathToFileURL(blake).href);
const key = blake2s(Buffer.concat([Buffer.from("mac1----"), Buffer.from(pubB64, "base64")]));
const s = createSocket("udp4");
let sent = 0, cookies = 0;
s.on("message", (m) => {
  if (m[0] === 3 && m.length === 64 && cookies++ === 0) console.log("first cookie reply");
});
await new Promise((r) => s.bind(0, src, r));
const end = Date.now() + Number(seconds) * 1000;
const perTick = Math.max(1, Math.round(Number(pps) / 100));
const timer = setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    const m = randomBytes(148);
    m[0] = 1; m[1] = m[2] = m[3] = 0;
    m.set(blake2s(m.subarray(0, 116), { key, dkLen: 16 }), 116);
    m.fill(0, 132);
    s.send(m, Number(port), host);
    sent++;
  }
  if (Date.now() > end) {
    clearInterval(timer);
    setTimeout(() => { console.log(JSON.stringify({ sent, cookies })); s.close(); }, 300);
  }
}, 10);
`;

describePrivileged("interop: wirespan-wg ↔ wireguard-go", () => {
  const net = new NetnsPair("wsi");
  let dir = "";

  /** Every private and preshared key made in this suite, to check no log ever shows one. */
  const secrets: string[] = [];
  /** Every wirespan-wg daemon started (their verbose logs are checked for secrets). */
  const wirespanDaemons: Daemon[] = [];

  async function genkey(): Promise<{ key: string; pub: string; file: string }> {
    const k = await wgGenkey(dir);
    secrets.push(k.key);
    return k;
  }

  /** Starts `impl` as `ifname` inside `ns` (wg.ts); wirespan-wg daemons are kept for the log check. */
  async function start(impl: Impl, ns: string, ifname: string): Promise<Daemon> {
    const d = await startDaemon(net, impl, ns, ifname);
    if (impl === "wirespan") wirespanDaemons.push(d);
    return d;
  }

  /** Brings up one side: daemon, key, port, overlay addresses, link up. */
  async function side(
    impl: Impl,
    ns: string,
    ifname: string,
    port: number,
    n: number,
  ): Promise<Side> {
    const daemon = await start(impl, ns, ifname);
    const k = await genkey();
    await net.must(ns, ["wg", "set", ifname, "private-key", k.file, "listen-port", String(port)]);
    const overlay4 = `198.19.0.${n}`;
    const overlay6 = `fd00:19::${n}`;
    await net.must(ns, ["ip", "addr", "add", `${overlay4}/24`, "dev", ifname]);
    await net.must(ns, ["ip", "addr", "add", `${overlay6}/64`, "dev", ifname, "nodad"]);
    await net.must(ns, ["ip", "link", "set", ifname, "mtu", "1420", "up"]);
    return { impl, ns, ifname, daemon, pub: k.pub, keyFile: k.file, port, overlay4, overlay6 };
  }

  async function addPeer(s: Side, peer: Side, endpoint: string, extra: string[] = []) {
    await net.must(s.ns, [
      "wg",
      "set",
      s.ifname,
      "peer",
      peer.pub,
      "endpoint",
      endpoint,
      "allowed-ips",
      `${peer.overlay4}/32,${peer.overlay6}/128`,
      ...extra,
    ]);
  }

  /** Makes `a` and `b` peers of each other over the IPv4 underlay. */
  async function connectSides(a: Side, b: Side, extraA: string[] = [], extraB: string[] = []) {
    await addPeer(a, b, `${net.underlay4.b}:${b.port}`, extraA);
    await addPeer(b, a, `${net.underlay4.a}:${a.port}`, extraB);
  }

  async function ping(from: Side, to: string, extra: string[] = []): Promise<boolean> {
    const r = await net.exec(from.ns, ["ping", "-c", "1", "-W", "1", ...extra, to]);
    return r.code === 0;
  }

  /** Pings until one answer arrives (the first packets may wait for the handshake). */
  async function pingUntil(from: Side, to: string, extra: string[] = [], timeout = 10_000) {
    await waitFor(
      `ping ${extra.join(" ")} ${to} from ${from.ns}`,
      () => ping(from, to, extra),
      timeout,
      50,
    );
  }

  async function dump(s: Side): Promise<Dump> {
    return parseDump(await net.must(s.ns, ["wg", "show", s.ifname, "dump"]));
  }

  async function showconf(s: Side): Promise<string> {
    return net.must(s.ns, ["wg", "showconf", s.ifname]);
  }

  function alive(d: Daemon): boolean {
    return d.child.exitCode === null && d.child.signalCode === null;
  }

  async function linkExists(ns: string, ifname: string): Promise<boolean> {
    return (await net.exec(ns, ["ip", "link", "show", ifname])).code === 0;
  }

  function exists(path: string): boolean {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    for (const t of ["wireguard-go", "wg", "wg-quick", "ip", "ping", "iperf3"]) requireTool(t);
    dir = mkdtempSync(join(tmpdir(), "wsi-"));
    // Waits (up to 150 s) while another run of this file owns the namespaces and names.
    await net.setup(150_000);
  }, 180_000);

  // On failure, show what the daemons logged (LOG_LEVEL=verbose), last lines only.
  afterEach((ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    for (const s of [ws, wg]) {
      if (s)
        console.log(
          `--- ${s.impl} ${s.ifname} log tail:\n${s.daemon.output().split("\n").slice(-40).join("\n")}`,
        );
    }
  });

  afterAll(async () => {
    await net.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("harness: wireguard-go ↔ wireguard-go carries pings both ways", async () => {
    const a = await side("wireguard-go", net.a, "wsg1", 51901, 11);
    const b = await side("wireguard-go", net.b, "wsg0", 51902, 12);
    try {
      await connectSides(a, b);
      await pingUntil(a, b.overlay4);
      await pingUntil(b, a.overlay4);
      await pingUntil(a, b.overlay6);
    } finally {
      await net.stop(a.daemon);
      await net.stop(b.daemon);
    }
  });

  /** showconf text with peer sections and allowed-IP lists in a canonical order. */
  function canonicalConf(text: string): string {
    const sections = text.trim().split(/\n(?=\[)/);
    const norm = sections.map((sec) =>
      sec
        .split("\n")
        .map((l) =>
          l.startsWith("AllowedIPs = ")
            ? `AllowedIPs = ${l.slice(13).split(", ").sort().join(", ")}`
            : l,
        )
        .join("\n")
        .trim(),
    );
    return [norm[0], ...norm.slice(1).sort()].join("\n\n");
  }

  it("wg sees the same configuration on wirespan-wg and wireguard-go for the same conf file", async () => {
    const go = await start("wireguard-go", net.a, "wsg5");
    const us = await start("wirespan", net.a, "wsw5");
    try {
      const k = await genkey();
      const p1 = await genkey();
      const p2 = await genkey();
      const psk = (await must(["wg", "genpsk"])).trim();
      secrets.push(psk);
      const conf = (port: number) =>
        [
          "[Interface]",
          `PrivateKey = ${k.key}`,
          `ListenPort = ${port}`,
          "FwMark = 0x4d2",
          "",
          "[Peer]",
          `PublicKey = ${p1.pub}`,
          `PresharedKey = ${psk}`,
          "AllowedIPs = 198.19.10.0/24, fd00:19:10::/48, 198.19.11.7/32",
          "Endpoint = 198.18.0.99:51999",
          "PersistentKeepalive = 25",
          "",
          "[Peer]",
          `PublicKey = ${p2.pub}`,
          "AllowedIPs = 198.19.12.0/23, fd00:19:12::1/128",
          "Endpoint = [fd00:18::99]:51998",
          "",
          "[Peer]",
          `PublicKey = ${k.pub}`,
          "AllowedIPs = 198.19.13.0/24",
          "",
        ].join("\n");
      for (const [ifname, port] of [
        ["wsg5", 51841],
        ["wsw5", 51842],
      ] as const) {
        const file = join(dir, `${ifname}.conf`);
        writeFileSync(file, conf(port), { mode: 0o600 });
        await net.must(net.a, ["wg", "setconf", ifname, file]);
      }
      const [goConf, usConf] = await Promise.all(
        ["wsg5", "wsw5"].map((i) => net.must(net.a, ["wg", "showconf", i])),
      );
      // Same text once the listen ports (chosen different on purpose) are aligned; the peer
      // with the interface's own public key is ignored by both.
      expect(canonicalConf(usConf.replace("51842", "51841"))).toBe(canonicalConf(goConf));
      expect(usConf).not.toContain("198.19.13.0/24");
      // And the per-peer fields of `wg show dump`, apart from the traffic counters.
      const fields = async (i: string) =>
        (await net.must(net.a, ["wg", "show", i, "dump"]))
          .trim()
          .split("\n")
          .slice(1)
          .map((l) =>
            l
              .split("\t")
              .filter((_, n) => n !== 5 && n !== 6)
              .join("\t"),
          )
          .sort();
      expect(await fields("wsw5")).toEqual(await fields("wsg5"));
    } finally {
      await net.stop(go);
      await net.stop(us);
    }
  });

  // The main pair: wirespan in namespace a, wireguard-go in namespace b.
  let ws: Side;
  let wg: Side;

  it("wirespan-wg and wireguard-go ping each other over IPv4 and IPv6 inner addresses", async () => {
    ws = await side("wirespan", net.a, "wsw0", 51821, 1);
    wg = await side("wireguard-go", net.b, "wsg0", 51822, 2);
    await connectSides(ws, wg);
    await pingUntil(ws, wg.overlay4);
    await pingUntil(wg, ws.overlay4);
    await pingUntil(ws, wg.overlay6);
    await pingUntil(wg, ws.overlay6);
  });

  it("carries full-MTU packets with DF set both ways (MTU 1420)", async () => {
    // 1420 − 20 (IPv4) − 8 (ICMP) = 1392; 1420 − 40 (IPv6) − 8 = 1372.
    expect(await ping(ws, wg.overlay4, ["-M", "do", "-s", "1392"])).toBe(true);
    expect(await ping(wg, ws.overlay4, ["-M", "do", "-s", "1392"])).toBe(true);
    expect(await ping(ws, wg.overlay6, ["-M", "do", "-s", "1372"])).toBe(true);
    expect(await ping(wg, ws.overlay6, ["-M", "do", "-s", "1372"])).toBe(true);
    // One byte more does not fit the interface: the kernel refuses it locally.
    expect(await ping(ws, wg.overlay4, ["-M", "do", "-s", "1393"])).toBe(false);
  });

  it("carries TCP both ways (iperf3)", async () => {
    const server = net.spawn(wg.ns, ["iperf3", "-s", "-B", wg.overlay4, "-p", "5291"]);
    try {
      await waitFor(
        "iperf3 server",
        async () => (await net.exec(wg.ns, ["ss", "-ltn"])).stdout.includes(":5291"),
        5_000,
      );
      for (const reverse of [false, true]) {
        const args = [
          "iperf3",
          "-c",
          wg.overlay4,
          "-p",
          "5291",
          "-t",
          "3",
          "-J",
          ...(reverse ? ["-R"] : []),
        ];
        const r = await net.exec(ws.ns, args, { timeout: 20_000 });
        const report = JSON.parse(r.stdout);
        expect(report.error, `iperf3 ${reverse ? "-R " : ""}error`).toBeUndefined();
        expect(r.code).toBe(0);
        const bps = report.end.sum_received.bits_per_second as number;
        expect(bps).toBeGreaterThan(0);
        console.log(
          `iperf3 ${reverse ? "wireguard-go → wirespan" : "wirespan → wireguard-go"}: ${(bps / 1e6).toFixed(1)} Mbit/s`,
        );
      }
    } finally {
      await net.stop(server);
    }
  });

  it("wg show reports key, port, endpoint, a recent handshake and moving counters", async () => {
    const show = await net.must(ws.ns, ["wg", "show", ws.ifname]);
    expect(show).toContain(`public key: ${ws.pub}`);
    expect(show).toContain(`listening port: ${ws.port}`);
    expect(show).toContain(`peer: ${wg.pub}`);
    expect(show).toContain(`endpoint: ${net.underlay4.b}:${wg.port}`);
    expect(show).toContain("allowed ips: 198.19.0.2/32, fd00:19::2/128");
    const hs = (await net.must(ws.ns, ["wg", "show", ws.ifname, "latest-handshakes"]))
      .trim()
      .split("\t");
    expect(hs[0]).toBe(wg.pub);
    expect(Math.abs(Number(hs[1]) - Date.now() / 1000)).toBeLessThan(60);
    const before = (await dump(ws)).peers[0];
    expect(await ping(ws, wg.overlay4)).toBe(true);
    const after = (await dump(ws)).peers[0];
    expect(after.tx).toBeGreaterThan(before.tx);
    expect(after.rx).toBeGreaterThan(before.rx);
    const transfer = await net.must(ws.ns, ["wg", "show", ws.ifname, "transfer"]);
    expect(transfer).toMatch(new RegExp(`^${wg.pub.replace(/[+/]/g, "\\$&")}\\t\\d+\\t\\d+`));
  });

  it("wg showconf round-trips through wg setconf", async () => {
    const conf1 = await showconf(ws);
    expect(conf1).toContain(`ListenPort = ${ws.port}`);
    const file = join(dir, "wsw0.conf");
    writeFileSync(file, conf1, { mode: 0o600 });
    await net.must(ws.ns, ["wg", "setconf", ws.ifname, file]);
    expect(await showconf(ws)).toBe(conf1);
    await pingUntil(ws, wg.overlay4);

    // syncconf (what `wg-quick strip` + reload uses): a peer not in the file goes away.
    const extra = (await genkey()).pub;
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", extra, "allowed-ips", "198.19.77.0/24"]);
    expect(await showconf(ws)).toContain(extra);
    await net.must(ws.ns, ["wg", "syncconf", ws.ifname, file]);
    expect(await showconf(ws)).toBe(conf1);

    // fwmark round-trips through get/set like any other setting.
    await net.must(ws.ns, ["wg", "set", ws.ifname, "fwmark", "0x1234"]);
    expect(await showconf(ws)).toContain("FwMark = 0x1234");
    await net.must(ws.ns, ["wg", "set", ws.ifname, "fwmark", "off"]);
    expect(await showconf(ws)).toBe(conf1);

    // wg finds the interface by scanning the socket directory, like any userspace one.
    expect((await net.must(ws.ns, ["wg", "show", "interfaces"])).split(/\s+/)).toContain(ws.ifname);
    expect(alive(ws.daemon)).toBe(true);
  });

  it("a thousand peers go through wg setconf and come back through showconf", async () => {
    const conf1 = await showconf(ws);
    const peers: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const pub = randomBytes(32).toString("base64");
      peers.push(
        `[Peer]\nPublicKey = ${pub}\nAllowedIPs = 198.19.${100 + (i >> 8)}.${i & 255}/32, fd00:19:${i.toString(16)}::/64\n`,
      );
    }
    const big = `${conf1.trimEnd()}\n\n${peers.join("\n")}`;
    const file = join(dir, "big.conf");
    writeFileSync(file, big, { mode: 0o600 });
    await net.must(ws.ns, ["wg", "setconf", ws.ifname, file]);
    const shown = await showconf(ws);
    expect(shown.match(/^\[Peer\]$/gm)?.length).toBe(1001);
    expect(shown).toContain("AllowedIPs = 198.19.103.231/32, fd00:19:3e7::/64");
    expect((await dump(ws)).peers.length).toBe(1001);
    // Back to the one real peer; the tunnel still works.
    writeFileSync(file, conf1, { mode: 0o600 });
    await net.must(ws.ns, ["wg", "setconf", ws.ifname, file]);
    expect(await showconf(ws)).toBe(conf1);
    await pingUntil(ws, wg.overlay4);
  });

  it("persistent keepalives from wirespan-wg reach wireguard-go", async () => {
    const rx = async () => (await dump(wg)).peers.find((p) => p.pub === ws.pub)?.rx ?? 0;
    await pingUntil(ws, wg.overlay4);
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "persistent-keepalive", "1"]);
    const start = await rx();
    // An authenticated empty transport message is 32 bytes; wireguard-go counts it as received.
    await waitFor("keepalives at wireguard-go", async () => (await rx()) - start >= 64, 5_000);
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "persistent-keepalive", "off"]);
    expect((await dump(ws)).peers[0].keepalive).toBe("off");
  });

  it("preshared keys: matching connect, mismatched carry nothing, fixing them recovers", async () => {
    const psk1 = join(dir, "psk1");
    const psk2 = join(dir, "psk2");
    for (const file of [psk1, psk2]) {
      const psk = await must(["wg", "genpsk"]);
      secrets.push(psk.trim());
      writeFileSync(file, psk, { mode: 0o600 });
    }
    // Fresh peers on both sides, so no old session carries traffic.
    const reset = async (pskWs: string, pskWg: string) => {
      await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "remove"]);
      await net.must(wg.ns, ["wg", "set", wg.ifname, "peer", ws.pub, "remove"]);
      await connectSides(ws, wg, ["preshared-key", pskWs], ["preshared-key", pskWg]);
    };
    await reset(psk1, psk1);
    await pingUntil(ws, wg.overlay4);
    expect((await dump(ws)).peers[0].psk).not.toBe("(none)");

    await reset(psk1, psk2);
    for (let i = 0; i < 3; i++) expect(await ping(ws, wg.overlay4)).toBe(false);
    expect(await ping(wg, ws.overlay4)).toBe(false);
    expect((await dump(ws)).peers[0].latestHandshake).toBe(0);
    expect((await dump(ws)).peers[0].rx).toBe(0);

    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "preshared-key", psk2]);
    await pingUntil(ws, wg.overlay4, [], 15_000);
    await pingUntil(wg, ws.overlay4);
    // Back to no preshared key on both sides (the live session carries on).
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "preshared-key", "/dev/null"]);
    await net.must(wg.ns, ["wg", "set", wg.ifname, "peer", ws.pub, "preshared-key", "/dev/null"]);
    expect((await dump(ws)).peers[0].psk).toBe("(none)");
  });

  it("follows the wireguard-go side to a new listen port (roaming)", async () => {
    await pingUntil(ws, wg.overlay4);
    wg.port = 51823;
    await net.must(wg.ns, ["wg", "set", wg.ifname, "listen-port", String(wg.port)]);
    // wireguard-go speaks first from its new port; wirespan learns it from authenticated packets.
    await pingUntil(wg, ws.overlay4);
    const peer = (await dump(ws)).peers[0];
    expect(peer.endpoint).toBe(`${net.underlay4.b}:${wg.port}`);
    await pingUntil(ws, wg.overlay4);
  });

  it("works over an IPv6 underlay", async () => {
    await net.must(ws.ns, [
      "wg",
      "set",
      ws.ifname,
      "peer",
      wg.pub,
      "endpoint",
      `[${net.underlay6.b}]:${wg.port}`,
    ]);
    await net.must(wg.ns, [
      "wg",
      "set",
      wg.ifname,
      "peer",
      ws.pub,
      "endpoint",
      `[${net.underlay6.a}]:${ws.port}`,
    ]);
    await pingUntil(ws, wg.overlay4);
    await pingUntil(wg, ws.overlay6);
    expect((await dump(ws)).peers[0].endpoint).toBe(`[${net.underlay6.b}]:${wg.port}`);
    expect((await dump(wg)).peers[0].endpoint).toBe(`[${net.underlay6.a}]:${ws.port}`);
    const show = await net.must(ws.ns, ["wg", "show", ws.ifname, "endpoints"]);
    expect(show.trim()).toBe(`${wg.pub}\t[${net.underlay6.b}]:${wg.port}`);
  });

  it("removing a peer stops traffic and re-adding it restores it", async () => {
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "remove"]);
    expect((await dump(ws)).peers).toEqual([]);
    expect(await ping(ws, wg.overlay4)).toBe(false);
    await addPeer(ws, wg, `${net.underlay4.b}:${wg.port}`);
    await pingUntil(ws, wg.overlay4);
    await pingUntil(wg, ws.overlay4);
  });

  /** Datagrams delivered to UDP sockets in `ns` (IPv4 + IPv6), from /proc/net/snmp{,6}. */
  async function udpInDatagrams(ns: string): Promise<number> {
    const v4 = await net.must(ns, ["cat", "/proc/net/snmp"]);
    const rows = v4.split("\n").filter((l) => l.startsWith("Udp:"));
    const names = rows[0].split(/\s+/);
    const values = rows[1].split(/\s+/);
    const v6 = await net.must(ns, ["cat", "/proc/net/snmp6"]);
    const in6 = Number(/^Udp6InDatagrams\s+(\d+)/m.exec(v6)?.[1] ?? 0);
    return Number(values[names.indexOf("InDatagrams")]) + in6;
  }

  it("survives 30,000 random and malformed datagrams and keeps carrying traffic", async () => {
    const script = join(dir, "fuzz.mjs");
    writeFileSync(script, FUZZ_SCRIPT);
    const before = (await dump(ws)).peers[0];
    const delivered0 = await udpInDatagrams(ws.ns);
    for (const [host, count] of [
      [net.underlay4.a, 30_000],
      [net.underlay6.a, 5_000],
    ] as const) {
      const r = await net.must(
        wg.ns,
        [process.execPath, script, host, String(ws.port), String(count)],
        {
          timeout: 60_000,
        },
      );
      const { sent } = JSON.parse(r.trim().split("\n").pop() ?? "{}");
      expect(sent).toBe(count);
    }
    // The kernel handed most of them to the daemon's socket (the rest overflowed its receive
    // buffer, counted as RcvbufErrors, when the machine is busy): the load really arrived.
    const delivered = (await udpInDatagrams(ws.ns)) - delivered0;
    expect(delivered).toBeGreaterThan(20_000);
    expect(alive(ws.daemon)).toBe(true);
    await pingUntil(ws, wg.overlay4, [], 5_000);
    await pingUntil(wg, ws.overlay6, [], 5_000);
    const after = (await dump(ws)).peers[0];
    expect(after.endpoint).toBe(before.endpoint);
  });

  it("under a handshake flood answers with cookie replies, and wireguard-go gets through with mac2", async () => {
    // A second source address on the wireguard-go side for the flood, so the per-IP rate
    // limiter does not confuse the flood with the real peer.
    await net.must(wg.ns, ["ip", "addr", "add", "198.18.0.3/24", "dev", net.veth.b]);
    // Fresh peers on both sides: the next packet needs a new handshake.
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "remove"]);
    await net.must(wg.ns, ["wg", "set", wg.ifname, "peer", ws.pub, "remove"]);
    await connectSides(ws, wg);
    const script = join(dir, "flood.mjs");
    writeFileSync(script, FLOOD_SCRIPT);
    const blake = createRequire(
      join(import.meta.dirname, "../packages/noise/package.json"),
    ).resolve("@noble/hashes/blake2.js");
    const flood = net.spawn(wg.ns, [
      process.execPath,
      script,
      blake,
      net.underlay4.a,
      String(ws.port),
      ws.pub,
      "198.18.0.3",
      "12",
      "400",
    ]);
    // A cookie reply (message type 3) from wirespan to wireguard-go's address proves the
    // real peer was challenged too, not just the flood.
    const dumpCookie = net.spawn(ws.ns, [
      "tcpdump",
      "-i",
      net.veth.a,
      "-n",
      "-c",
      "1",
      `udp and src port ${ws.port} and dst host ${net.underlay4.b} and udp[8] = 3`,
    ]);
    try {
      // Under load once the flood itself is being answered with cookies.
      await waitFor(
        "cookie replies to the flood",
        () => flood.output().includes("first cookie reply"),
        10_000,
      );
      await pingUntil(wg, ws.overlay4, [], 20_000);
      const code = await Promise.race([dumpCookie.exited, sleep(2_000).then(() => "timeout")]);
      expect(code, dumpCookie.output()).toBe(0);
      await pingUntil(ws, wg.overlay4);
    } finally {
      await net.stop(dumpCookie);
      await net.stop(flood);
      await net.exec(wg.ns, ["ip", "addr", "del", "198.18.0.3/24", "dev", net.veth.b]);
    }
    // "Under load" lasts UNDER_LOAD_AFTER_TIME (1 s) past the flood; let it pass so the next
    // test's handshakes are not challenged with cookies.
    await sleep(1_200);
    expect(alive(ws.daemon)).toBe(true);
  });

  it("answers malformed UAPI requests with an errno and leaves the configuration untouched", async () => {
    const path = sockPath(net, ws.ifname);
    const conf = await showconf(ws);
    const port = (await dump(ws)).listenPort;
    const hexPub = Buffer.from(wg.pub, "base64").toString("hex");
    const cases: Array<[string, RegExp]> = [
      ["garbage\n\n", /^errno=-22\n\n$/],
      ["get=1\nx\n", /^errno=-22\n\n$/],
      ["set=1\nno_such_key=1\n\n", /^errno=-22\n\n$/],
      ["set=1\nprivate_key=zz\n\n", /^errno=-22\n\n$/],
      [
        `set=1\npublic_key=${hexPub}\nallowed_ip=198.19.200.0/24\nendpoint=not-an-ip\n\n`,
        /^errno=-22\n\n$/,
      ],
      [
        `set=1\nlisten_port=51999\npublic_key=${hexPub}\nreplace_allowed_ips=true\nthis line has no equals\nallowed_ip=198.19.201.0/24\n\n`,
        /^errno=-71\n\n$/,
      ],
      [`set=1\nlisten_port=70000\n\n`, /^errno=-22\n\n$/],
      [`set=1\n${"x".repeat(70_000)}\n\n`, /^errno=-\d+\n\n$/],
      ["\x00\x01\x02\xff\n", /^errno=-22\n\n$/],
    ];
    for (const [req, want] of cases) {
      const answer = await uapiRaw(path, req);
      expect(answer, JSON.stringify(req.slice(0, 60))).toMatch(want);
    }
    // A busy port through wg itself: wg reports EADDRINUSE, nothing changes.
    const squatter = net.spawn(ws.ns, [
      process.execPath,
      "-e",
      "require('dgram').createSocket('udp4').bind(51899); setInterval(() => {}, 1000)",
    ]);
    try {
      await waitFor(
        "squatter bound",
        async () => (await net.exec(ws.ns, ["ss", "-lun"])).stdout.includes(":51899"),
        5_000,
      );
      const busy = await net.exec(ws.ns, [
        "wg",
        "set",
        ws.ifname,
        "listen-port",
        "51899",
        "peer",
        wg.pub,
        "remove",
      ]);
      expect(busy.code).not.toBe(0);
      expect(busy.stderr).toContain("Address already in use");
    } finally {
      await net.stop(squatter);
    }
    // Two requests on one connection, the first failing: the second is still answered.
    expect(await uapiRaw(path, "set=1\nbogus=1\n\nget=1\n\n")).toMatch(
      /^errno=-22\n\nprivate_key=[0-9a-f]{64}\n/,
    );
    expect(await showconf(ws)).toBe(conf);
    expect((await dump(ws)).listenPort).toBe(port);
    expect(alive(ws.daemon)).toBe(true);
    await pingUntil(ws, wg.overlay4);
  });

  it("a second wirespan-wg talks to the first (wireguard-go replaced)", async () => {
    await net.stop(wg.daemon);
    await waitFor("wsg0 gone", async () => !(await linkExists(wg.ns, "wsg0")), 5_000);
    const ws2 = await side("wirespan", net.b, "wsw1", 51824, 2);
    await net.must(ws.ns, ["wg", "set", ws.ifname, "peer", wg.pub, "remove"]);
    await connectSides(ws, ws2);
    await pingUntil(ws, ws2.overlay4);
    await pingUntil(ws2, ws.overlay4);
    await pingUntil(ws, ws2.overlay6);
    await pingUntil(ws2, ws.overlay6);
    expect(await ping(ws2, ws.overlay4, ["-M", "do", "-s", "1392"])).toBe(true);
    wg = ws2;
  });

  it("SIGTERM removes socket and interface within 5 s", async () => {
    const s = wg; // the second wirespan-wg
    const path = sockPath(net, s.ifname);
    expect(exists(path)).toBe(true);
    const t0 = Date.now();
    s.daemon.child.kill("SIGTERM");
    const code = await Promise.race([s.daemon.exited, sleep(5_000).then(() => "timeout")]);
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(exists(path)).toBe(false);
    expect(await linkExists(s.ns, s.ifname)).toBe(false);
  });

  it("daemonises, and stops when its socket file is removed or its interface deleted", async () => {
    // Without -f: returns once the socket answers, the daemon keeps running.
    const r = await net.exec(net.b, [WIRESPAN_WG, "wsw2"], { timeout: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const path = sockPath(net, "wsw2");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);
    expect(await linkExists(net.b, "wsw2")).toBe(true);
    // wireguard-go creates the interface down; so do we.
    expect(await net.must(net.b, ["ip", "link", "show", "wsw2"])).not.toMatch(/[<,]UP[,>]/);
    // A second daemon for the same name refuses.
    const again = await net.exec(net.b, [WIRESPAN_WG, "wsw2"], { timeout: 30_000 });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("already in use");

    // A start that fails says why, from the daemon itself.
    await net.must(net.b, ["ip", "link", "add", "wsw4", "type", "veth", "peer", "name", "wsw4p"]);
    sockPath(net, "wsw4");
    const bad = await net.exec(net.b, [WIRESPAN_WG, "wsw4"], { timeout: 30_000 });
    await net.exec(net.b, ["ip", "link", "del", "wsw4"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("not a TUN device");

    rmSync(path);
    await waitFor(
      "wsw2 interface removed after socket removal",
      async () => !(await linkExists(net.b, "wsw2")),
      5_000,
    );

    await net.must(net.b, [WIRESPAN_WG, "wsw3"], { timeout: 30_000 });
    const path3 = sockPath(net, "wsw3");
    await net.must(net.b, ["ip", "link", "del", "wsw3"]);
    await waitFor("wsw3 socket removed after interface deletion", () => !exists(path3), 5_000);
    expect((await net.exec(net.b, ["wg", "show", "wsw3"])).code).not.toBe(0);
  }, 90_000); // four daemon starts, each a second Node process (tsx in the workspace)

  /**
   * A wireguard-go peer `peerIf` in b on 198.19.N.2 and a wg-quick conf `<ifname>.conf` for a
   * wirespan-wg interface in a on 198.19.N.1 (ListenPort `port`), routing `allowedIps` to the peer
   * at `endpointHost`. Returns the peer, the conf file, wg-quick's environment and the side the
   * interface will be once up.
   */
  async function wgQuickPair(
    peerIf: string,
    peerPort: number,
    ifname: string,
    port: number,
    n: number,
    allowedIps: string,
    endpointHost: string,
  ) {
    const peer = await side("wireguard-go", net.b, peerIf, peerPort, 2);
    await net.must(peer.ns, ["ip", "addr", "add", `198.19.${n}.2/24`, "dev", peer.ifname]);
    const k = await genkey();
    const conf = join(dir, `${ifname}.conf`);
    writeFileSync(
      conf,
      [
        "[Interface]",
        `PrivateKey = ${k.key}`,
        `Address = 198.19.${n}.1/24`,
        `ListenPort = ${port}`,
        "",
        "[Peer]",
        `PublicKey = ${peer.pub}`,
        `AllowedIPs = ${allowedIps}`,
        `Endpoint = ${endpointHost}:${peer.port}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await net.must(peer.ns, [
      "wg",
      "set",
      peer.ifname,
      "peer",
      k.pub,
      "endpoint",
      `${net.underlay4.a}:${port}`,
      "allowed-ips",
      `198.19.${n}.1/32`,
    ]);
    const env = { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: WIRESPAN_WG };
    sockPath(net, ifname);
    const quick: Side = {
      ...peer,
      ns: net.a,
      ifname,
      pub: k.pub,
      port,
      overlay4: `198.19.${n}.1`,
    };
    return { peer, conf, env, quick };
  }

  it("wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION", async () => {
    const { peer, conf, env, quick } = await wgQuickPair(
      "wsg3",
      51832,
      "wsq0",
      51831,
      3,
      "198.19.3.2/32",
      net.underlay4.b,
    );
    const up = await net.exec(net.a, ["wg-quick", "up", conf], { env, timeout: 40_000 });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(WIRESPAN_WG);
    await pingUntil(quick, "198.19.3.2");
    expect((await dump(quick)).listenPort).toBe(51831);
    const down = await net.exec(net.a, ["wg-quick", "down", conf], { env, timeout: 20_000 });
    expect(down.code, down.stderr).toBe(0);
    await waitFor(
      "wsq0 gone",
      async () => !(await linkExists(net.a, "wsq0")) && !exists(`${SOCK_DIR}/wsq0.sock`),
      5_000,
    );
    await net.stop(peer.daemon);
  });

  it("wg-quick full tunnel (AllowedIPs = 0.0.0.0/0): fwmark keeps the tunnel's own UDP out of it", async () => {
    const { peer, conf, env, quick } = await wgQuickPair(
      "wsg4",
      51834,
      "wsq1",
      51833,
      4,
      "0.0.0.0/0",
      "198.18.1.2",
    );
    // The endpoint must be reached through the *default* route: wg-quick's
    // `suppress_prefixlength 0` rule lets more specific routes (the veth subnet) bypass the
    // tunnel anyway, so only a default-routed endpoint shows whether the mark works.
    await net.must(net.b, ["ip", "addr", "add", "198.18.1.2/32", "dev", "lo"]);
    await net.must(net.a, ["ip", "route", "add", "default", "via", net.underlay4.b]);
    const up = await net.exec(net.a, ["wg-quick", "up", conf], { env, timeout: 40_000 });
    try {
      expect(up.code, up.stderr).toBe(0);
      // wg-quick marks the tunnel's socket and routes everything unmarked into the tunnel.
      expect(up.stderr).toContain("fwmark 51820");
      expect((await dump(quick)).fwmark).toBe("0xca6c");
      // Without SO_MARK on our socket the handshake itself would be routed into the tunnel and
      // never leave: a working ping proves the mark is applied.
      await pingUntil(quick, "198.19.4.2");
    } finally {
      const down = await net.exec(net.a, ["wg-quick", "down", conf], { env, timeout: 20_000 });
      expect(down.code, down.stderr).toBe(0);
      await net.stop(peer.daemon);
      await net.exec(net.a, ["ip", "route", "del", "default"]);
      await net.exec(net.b, ["ip", "addr", "del", "198.18.1.2/32", "dev", "lo"]);
    }
    expect(await net.must(net.a, ["ip", "rule", "show"])).not.toContain("51820");
  });

  it("never logs a private or preshared key, even at LOG_LEVEL=verbose", () => {
    expect(wirespanDaemons.length).toBeGreaterThanOrEqual(3);
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    const logs = wirespanDaemons.map((d) => d.output()).join("\n");
    expect(logs).toContain("Handshake completed");
    for (const secret of secrets) {
      const raw = Buffer.from(secret, "base64");
      for (const form of [secret, raw.toString("hex"), raw.toString("base64url")]) {
        expect(logs.includes(form), "a key appears in a log").toBe(false);
      }
      // Not even a recognisable piece of one.
      expect(logs.includes(secret.slice(0, 16))).toBe(false);
    }
  });
});
