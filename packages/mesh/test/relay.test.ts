/**
 * The relay on loopback: two admitted nodes exchange datagrams by public key, byte for byte; a
 * node that cannot prove its private key, one from a cluster the relay does not serve, and a raw
 * client that skips the handshake are refused; a missing destination is reported; the per-node
 * rate limit drops the excess; metrics count it all; TLS (wss) with a self-signed certificate.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { selfSignedCert } from "../../../test/support/self-signed.js";
import { RelayClient } from "../src/relay/client.js";
import { encodeFrame, FrameType, RelayProtocolVersion, relayToken } from "../src/relay/protocol.js";
import { RelayPool } from "../src/relay/relay-pool.js";
import { RelayServer } from "../src/relay/server.js";

const secret = nodeCrypto.randomBytes(32);
const clusterId = "cluster-a";
const token = relayToken(secret);

function keypair() {
  const privateKey = nodeCrypto.randomBytes(32);
  return { privateKey, publicKey: nodeCrypto.x25519PublicKey(privateKey) };
}

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function relay(opts: Partial<Parameters<typeof RelayServer.start>[0]> = {}) {
  const server = await RelayServer.start({
    host: "127.0.0.1",
    port: 0,
    clusters: new Map([[clusterId, token]]),
    ...opts,
  });
  open.push(server);
  return server;
}

function client(
  url: string,
  k = keypair(),
  extra: { clusterId?: string; token?: Uint8Array; keepaliveMs?: number } = {},
) {
  const c = new RelayClient({ url, ...k, clusterId, token, minBackoffMs: 50, ...extra });
  open.push(c);
  return c;
}

async function waitUntil(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const b64 = (key: Uint8Array) => Buffer.from(key).toString("base64");

const until = <T>(c: RelayClient, ev: "state" | "refused" | "packet" | "peerGone") =>
  new Promise<T[]>((resolve) => c.once(ev, (...a: unknown[]) => resolve(a as T[])));

describe("relay", () => {
  it("forwards datagrams between admitted nodes by public key, byte-exact", async () => {
    const server = await relay();
    const ka = keypair();
    const kb = keypair();
    const a = client(server.url, ka);
    const b = client(server.url, kb);
    const upA = until(a, "state");
    const upB = until(b, "state");
    a.start();
    b.start();
    await Promise.all([upA, upB]);
    expect(server.connected).toBe(2);
    const got = until<Uint8Array>(b, "packet");
    const payload = nodeCrypto.randomBytes(1452);
    expect(a.send(b64(kb.publicKey), payload)).toBe(true);
    const [from, data] = await got;
    expect(from).toBe(b64(ka.publicKey));
    expect(Buffer.from(data).equals(payload)).toBe(true);
    // A destination that is not connected is reported back.
    const gone = until<Uint8Array>(a, "peerGone");
    const stranger = keypair().publicKey;
    a.send(b64(stranger), payload);
    expect(Buffer.from((await gone)[0]).equals(stranger)).toBe(true);
    const metrics = await (await fetch(`http://${server.address}/metrics`)).text();
    expect(metrics).toContain("wirespan_relay_clients 2");
    expect(metrics).toContain("wirespan_relay_forwarded_packets_total 1");
    expect(metrics).toContain('wirespan_relay_dropped_total{reason="noPeer"} 1');
  });

  it("carries a burst sent in one turn as batches, in order and byte-exact", async () => {
    const server = await relay();
    const kb = keypair();
    const a = client(server.url);
    const b = client(server.url, kb);
    const ups = [until(a, "state"), until(b, "state")];
    a.start();
    b.start();
    await Promise.all(ups);
    // 200 datagrams of 1 … 1,400 B, ~140 kB: more than one frame's 64 KiB, so several batches.
    const sent = Array.from({ length: 200 }, (_, i) =>
      nodeCrypto.randomBytes(1 + ((i * 7919) % 1400)),
    );
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) =>
      b.on("packet", (_from, data) => {
        got.push(Buffer.from(data));
        if (got.length === sent.length) resolve();
      }),
    );
    for (const p of sent) expect(a.send(b64(kb.publicKey), p)).toBe(true);
    await all;
    expect(got.map((g) => g.toString("hex"))).toEqual(
      sent.map((p) => Buffer.from(p).toString("hex")),
    );
    expect(server.stats.packets).toBe(200);
    // ~140 kB in 64 KiB frames: a few messages, not 200.
    expect(server.stats.frames).toBeGreaterThanOrEqual(3);
    expect(server.stats.frames).toBeLessThanOrEqual(5);
  });

  it("refuses a node from a cluster it does not serve, and one that cannot prove its key", async () => {
    const server = await relay();
    const other = client(server.url, keypair(), {
      clusterId: "cluster-b",
      token: relayToken(nodeCrypto.randomBytes(32)),
    });
    const r1 = until<string>(other, "refused");
    other.start();
    expect((await r1)[0]).toBe("cluster not served");
    // Claims someone else's public key without its private key.
    const victim = keypair();
    const impostor = client(server.url, {
      privateKey: keypair().privateKey,
      publicKey: victim.publicKey,
    });
    const r2 = until<string>(impostor, "refused");
    impostor.start();
    expect((await r2)[0]).toBe("key proof failed");
    // A raw WebSocket that sends a packet before any handshake.
    const raw = new WebSocket(server.url);
    open.push({ close: () => raw.terminate() });
    await new Promise((r) => raw.once("open", r));
    const closed = new Promise<number>((r) => raw.once("close", (code: number) => r(code)));
    raw.send(
      encodeFrame({ type: FrameType.Send, key: victim.publicKey, packets: [new Uint8Array(32)] }),
    );
    expect(await closed).toBe(1008);
    expect(server.connected).toBe(0);
    expect(server.stats.refused).toEqual({
      "cluster not served": 1,
      "key proof failed": 1,
      "expected ClientHello": 1,
    });
  });

  it("rate-limits each node's sending", async () => {
    const server = await relay({ rateBytesPerSecond: 10_000, burstBytes: 10_000 });
    const kb = keypair();
    const a = client(server.url);
    const b = client(server.url, kb);
    const ups = [until(a, "state"), until(b, "state")];
    a.start();
    b.start();
    await Promise.all(ups);
    let received = 0;
    b.on("packet", () => received++);
    // One turn: one batch of 50 datagrams, of which the 10 kB burst covers the first 10.
    for (let i = 0; i < 50; i++) a.send(b64(kb.publicKey), new Uint8Array(1000));
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBe(10);
    expect(server.stats.dropped.rateLimited).toBe(50 - received);
  });

  it("closes connections idle past the timeout; a node's keepalive holds its own", async () => {
    const server = await relay({ idleTimeoutMs: 300 });
    const held = client(server.url, keypair(), { keepaliveMs: 100 });
    const silent = client(server.url, keypair(), { keepaliveMs: 0 });
    let heldDowns = 0;
    held.on("state", (up) => {
      if (!up) heldDowns++;
    });
    const ups = [until(held, "state"), until(silent, "state")];
    held.start();
    silent.start();
    await Promise.all(ups);
    const silentDown = until<boolean>(silent, "state");
    expect((await silentDown)[0]).toBe(false);
    // The closed node reconnects by itself (and is closed again while it stays silent).
    expect((await until<boolean>(silent, "state"))[0]).toBe(true);
    await new Promise((r) => setTimeout(r, 700));
    expect(held.up).toBe(true);
    expect(heldDowns).toBe(0);
    expect(server.stats.closedIdle).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`http://${server.address}/metrics`)).text();
    expect(metrics).toMatch(/wirespan_relay_closed_idle_total [1-9]/);
  });

  it("a node whose keepalive goes unanswered reconnects", async () => {
    // A stand-in relay that admits anyone and never answers pings (a dead path that keeps TCP up).
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, autoPong: false });
    open.push({ close: () => new Promise((r) => wss.close(r)) });
    await new Promise((r) => wss.once("listening", r));
    let connections = 0;
    wss.on("connection", (ws) => {
      connections++;
      ws.send(
        encodeFrame({
          type: FrameType.ServerHello,
          version: RelayProtocolVersion,
          serverKey: keypair().publicKey,
          challenge: new Uint8Array(32),
        }),
      );
      ws.once("message", () =>
        ws.send(encodeFrame({ type: FrameType.Welcome, rateBytesPerSecond: 1 })),
      );
    });
    const port = (wss.address() as { port: number }).port;
    const c = client(`ws://127.0.0.1:${port}/wirespan/relay`, keypair(), { keepaliveMs: 100 });
    const up = until(c, "state");
    c.start();
    await up;
    expect((await until<boolean>(c, "state"))[0]).toBe(false);
    await until(c, "state");
    expect(connections).toBe(2);
    for (const ws of wss.clients) ws.terminate();
  });

  it("disconnects a peer's home relay left unused, and reconnects on the next send", async () => {
    const server = await relay();
    const kb = keypair();
    const b = client(server.url, kb);
    const bUp = until(b, "state");
    b.start();
    await bUp;
    // The pool's own relays: none; `server` is only b's home.
    const pool = new RelayPool(
      [],
      { ...keypair(), clusterId, token, minBackoffMs: 50 },
      {
        idleCloseMs: 300,
      },
    );
    open.push(pool);
    pool.send(server.url, b64(kb.publicKey), Uint8Array.of(1));
    await waitUntil(() => pool.isUp(server.url));
    expect(server.connected).toBe(2);
    await waitUntil(() => pool.stats().length === 0);
    await waitUntil(() => server.connected === 1);
    pool.send(server.url, b64(kb.publicKey), Uint8Array.of(1));
    await waitUntil(() => pool.isUp(server.url));
    const got = until<Uint8Array>(b, "packet");
    expect(pool.send(server.url, b64(kb.publicKey), Uint8Array.of(7))).toBe(true);
    expect([...(await got)[1]]).toEqual([7]);
  });

  it("serves wss with a certificate the client trusts (NODE_EXTRA_CA_CERTS in production)", async () => {
    let hasOpenssl = true;
    try {
      execFileSync("openssl", ["version"], { stdio: "ignore" });
    } catch {
      hasOpenssl = false;
    }
    if (!hasOpenssl) return; // scripts/setup.sh installs openssl in CI
    const dir = mkdtempSync(join(tmpdir(), "wsrelay-"));
    open.push({ close: () => rmSync(dir, { recursive: true, force: true }) });
    const { cert, key } = selfSignedCert(dir, "127.0.0.1");
    const server = await relay({ tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    expect(server.url.startsWith("wss://")).toBe(true);
    const kb = keypair();
    const a = new RelayClient({
      url: server.url,
      ...keypair(),
      clusterId,
      token,
      tlsCa: readFileSync(cert),
    });
    const b = new RelayClient({
      url: server.url,
      ...kb,
      clusterId,
      token,
      tlsCa: readFileSync(cert),
    });
    open.push(a, b);
    const ups = [until(a, "state"), until(b, "state")];
    a.start();
    b.start();
    await Promise.all(ups);
    const got = until<Uint8Array>(b, "packet");
    a.send(b64(kb.publicKey), Uint8Array.of(4, 0, 0, 0));
    expect([...(await got)[1]]).toEqual([4, 0, 0, 0]);
  });
});
