/**
 * Interop across a rekey: wirespan-wg and wireguard-go keep a tunnel carrying pings through
 * REKEY_AFTER_TIME (120 s, whitepaper §6.2), once with wirespan as the initiator of the session
 * (so it starts the rekey) and once with wireguard-go as the initiator (wirespan answers it).
 * Both tunnels run at the same time, so the file takes a little over two minutes.
 *
 * Underlay 198.18.0.1/2 on a veth; overlays 198.19.6.0/24 and 198.19.7.0/24.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NetnsPair, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";
import { genkey, startDaemon } from "./support/wg.js";

/** REKEY_AFTER_TIME plus margin for jitter and the first handshake. */
const RUN_SECONDS = 135;

describePrivileged("interop across a rekey: wirespan-wg ↔ wireguard-go", () => {
  const net = new NetnsPair("wsr");
  let dir = "";

  /** A tunnel between `ifA` (wirespan, in a) and `ifB` (wireguard-go, in b) on 198.19.N.0/24. */
  async function tunnel(ifA: string, portA: number, ifB: string, portB: number, n: number) {
    await startDaemon(net, "wirespan", net.a, ifA);
    await startDaemon(net, "wireguard-go", net.b, ifB);
    const ka = await genkey(dir);
    const kb = await genkey(dir);
    const a = `198.19.${n}.1`;
    const b = `198.19.${n}.2`;
    for (const [ns, ifname, own, port, peer, endpoint, allowed, addr] of [
      [net.a, ifA, ka, portA, kb, `${net.underlay4.b}:${portB}`, b, a],
      [net.b, ifB, kb, portB, ka, `${net.underlay4.a}:${portA}`, a, b],
    ] as const) {
      await net.must(ns, [
        "wg",
        "set",
        ifname,
        "private-key",
        own.file,
        "listen-port",
        String(port),
        "peer",
        peer.pub,
        "endpoint",
        endpoint,
        "allowed-ips",
        `${allowed}/32`,
      ]);
      await net.must(ns, ["ip", "addr", "add", `${addr}/24`, "dev", ifname]);
    }
    await net.must(net.a, ["ip", "link", "set", ifA, "up"]);
    await net.must(net.b, ["ip", "link", "set", ifB, "up"]);
    return { a, b, pubA: ka.pub, pubB: kb.pub };
  }

  async function latestHandshake(ns: string, ifname: string): Promise<number> {
    const out = await net.must(ns, ["wg", "show", ifname, "latest-handshakes"]);
    return Number(out.trim().split("\t")[1]);
  }

  /** Pings every 0.2 s for RUN_SECONDS; resolves with [sent, received]. */
  async function pingRun(ns: string, to: string): Promise<[number, number]> {
    const r = await net.exec(ns, ["ping", "-q", "-i", "0.2", "-w", String(RUN_SECONDS), to], {
      timeout: (RUN_SECONDS + 20) * 1000,
    });
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    if (!m) throw new Error(`ping output: ${r.stdout}${r.stderr}`);
    return [Number(m[1]), Number(m[2])];
  }

  beforeAll(async () => {
    for (const t of ["wireguard-go", "wg", "ip", "ping"]) requireTool(t);
    dir = mkdtempSync(join(tmpdir(), "wsr-"));
    await net.setup(150_000);
  }, 180_000);

  afterAll(async () => {
    await net.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "keeps carrying pings through REKEY_AFTER_TIME, with either side as the session initiator",
    async () => {
      // Tunnel 1: wirespan speaks first, so it initiated the session and must rekey it.
      const t1 = await tunnel("wsr0", 51861, "wsr1", 51862, 6);
      await waitFor(
        "tunnel 1",
        async () => (await net.exec(net.a, ["ping", "-c1", "-W1", t1.b])).code === 0,
      );
      // Tunnel 2: wireguard-go speaks first; wirespan is the responder of its rekey.
      const t2 = await tunnel("wsr2", 51863, "wsr3", 51864, 7);
      await waitFor(
        "tunnel 2",
        async () => (await net.exec(net.b, ["ping", "-c1", "-W1", t2.a])).code === 0,
      );
      const first1 = await latestHandshake(net.a, "wsr0");
      const first2 = await latestHandshake(net.a, "wsr2");

      const [r1, r2] = await Promise.all([pingRun(net.a, t1.b), pingRun(net.b, t2.a)]);
      const [sent1, got1] = r1;
      const [sent2, got2] = r2;
      // A rekey happens in the background on the current session: at most a packet or two may
      // be lost to it (the kernel's and wireguard-go's behaviour), never a stall.
      expect(sent1).toBeGreaterThan(RUN_SECONDS * 4);
      expect(sent1 - got1).toBeLessThanOrEqual(2);
      expect(sent2 - got2).toBeLessThanOrEqual(2);
      // And a new handshake did happen on both tunnels.
      expect(await latestHandshake(net.a, "wsr0")).toBeGreaterThan(first1 + 100);
      expect(await latestHandshake(net.a, "wsr2")).toBeGreaterThan(first2 + 100);
      expect(await latestHandshake(net.b, "wsr1")).toBeGreaterThan(first1 + 100);
    },
    (RUN_SECONDS + 60) * 1000,
  );
});
