/**
 * A send burst larger than the socket's send buffer (EAGAIN) is not lost silently: what the
 * kernel did not take waits and goes when the socket is writable again (as wireguard-go's writes
 * park on the netpoller); only past a bounded backlog are datagrams dropped, and those are
 * counted as `bufferFull`, apart from send errors. The sender sits in one namespace behind a
 * token-bucket qdisc (tbf, 50 Mbit/s: no netem here), so the qdisc holds what the socket sent
 * and the socket's send buffer fills; the receiving interface counts what arrived. How many
 * datagrams the kernel takes at once depends on its per-datagram accounting and on how much the
 * qdisc drains during the call (about 6,800 of 1400 bytes on a quiet machine, more under load),
 * so the overflow case runs first and the in-full case sizes its burst from what it measured.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NetnsPair } from "../../../test/support/netns.js";
import {
  describeRequiring,
  privilegedSkipReason,
  requireTool,
} from "../../../test/support/privileged.js";
import { BatchUdpBind, SEND_BACKLOG_MAX } from "../src/bind/batch-udp-bind.js";

const child = fileURLToPath(new URL("./fixtures/send-burst.ts", import.meta.url));
const skip =
  privilegedSkipReason ?? (BatchUdpBind.available() ? null : "needs the batched-UDP addon");

interface BurstResult {
  errors: number;
  bufferFull: number;
  deferred: number;
  sent: number;
  blocked: number;
  waiting: number;
}

describeRequiring(skip, "BatchUdpBind: a send burst past a full socket buffer", () => {
  const net = new NetnsPair("wse");

  beforeAll(async () => {
    requireTool("tc");
    await net.setup();
    await net.must(net.a, [
      ...["tc", "qdisc", "add", "dev", net.veth.a, "root", "tbf"],
      ...["rate", "50mbit", "burst", "64kb", "limit", "64mb"],
    ]);
  }, 60_000);

  afterAll(async () => {
    await net.release();
  });

  /** Datagrams the kernel accepted in one sendmmsg before EAGAIN, measured by the overflow case. */
  let takenAtOnce = 0;

  async function received(): Promise<number> {
    const out = await net.must(net.b, [
      "cat",
      `/sys/class/net/${net.veth.b}/statistics/rx_packets`,
    ]);
    return Number(out.trim());
  }

  async function burst(count: number): Promise<BurstResult> {
    const out = await net.must(
      net.a,
      [
        ...[process.execPath, "--import", "tsx", child],
        ...[net.underlay4.a, `${net.underlay4.b}:9`, String(count), "1400"],
      ],
      // No UDP GSO: a GSO send crosses the veth as one packet, and the receiving interface's
      // counter, which this test reads, would count it once.
      { timeout: 60_000, env: { ...process.env, WIRESPAN_UDP_GSO: "0" } },
    );
    return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as BurstResult;
  }

  async function arrivedAfter(before: number, want: number): Promise<number> {
    const end = Date.now() + 10_000;
    let now = await received();
    while (now - before < want && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      now = await received();
    }
    return now - before;
  }

  it("drops what exceeds the bounded backlog, counted as bufferFull, and sends the rest", async () => {
    const before = await received();
    const r = await burst(24_000);
    expect(r.bufferFull).toBeGreaterThan(0);
    expect(r.deferred).toBe(SEND_BACKLOG_MAX);
    expect(r.errors).toBe(0);
    expect(r.sent + r.bufferFull).toBe(24_000);
    expect(await arrivedAfter(before, r.sent)).toBeGreaterThanOrEqual(r.sent);
    // What the kernel took before the first EAGAIN (the rest was deferred or dropped).
    takenAtOnce = 24_000 - r.deferred - r.bufferFull;
  }, 90_000);

  it("sends a burst larger than the send buffer completely, late but in full", async () => {
    expect(takenAtOnce).toBeGreaterThan(0);
    // Past what the kernel takes at once, within what the backlog holds: half a backlog either way.
    const count = takenAtOnce + SEND_BACKLOG_MAX / 2;
    const before = await received();
    const r = await burst(count);
    expect(r.blocked).toBeGreaterThan(0); // the buffer really filled (EAGAIN)
    expect(r.deferred).toBeGreaterThan(0);
    expect(r).toMatchObject({ errors: 0, bufferFull: 0, waiting: 0, sent: count });
    // Other traffic (neighbour discovery, ARP) may add a packet or two on the wire.
    expect(await arrivedAfter(before, count)).toBeGreaterThanOrEqual(count);
  }, 90_000);
});
