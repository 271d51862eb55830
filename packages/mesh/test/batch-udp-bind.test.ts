/**
 * The batched-UDP bind on loopback: datagrams arrive intact, in order and with the right sender
 * whether they travel one by one, as GSO runs (split again by GRO or by the kernel) or mixed
 * sizes; IPv4 on the dual-stack socket is reported as family 4.
 */
import { describe, expect, it } from "vitest";
import { BatchUdpBind } from "../src/bind/batch-udp-bind.js";

const available = BatchUdpBind.available();

function datagram(i: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  d[0] = 4; // transport type: may be delivered as a view
  d[4] = i & 0xff;
  d[5] = (i >> 8) & 0xff;
  for (let k = 8; k < size; k++) d[k] = (i * 31 + k) & 0xff;
  return d;
}

async function exchange(
  opts: { gso: boolean; gro: boolean },
  sizes: number[],
  host = "127.0.0.1",
  family: 4 | 6 = 4,
) {
  const a = new BatchUdpBind({ gso: opts.gso, gro: opts.gro });
  const b = new BatchUdpBind({ gso: opts.gso, gro: opts.gro });
  const got: Array<{ data: Uint8Array; from: { address: string; port: number; family: number } }> =
    [];
  b.onReceive((data, from) => got.push({ data: data.slice(), from }));
  try {
    await a.open(0);
    const port = await b.open(0);
    const sent = sizes.map((s, i) => datagram(i, s));
    for (const d of sent) a.send({ address: host, port, family }, d);
    const deadline = Date.now() + 3000;
    while (got.length < sent.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return { sent, got, aPort: a.port, stats: a.stats(), bStats: b.stats() };
  } finally {
    await a.close();
    await b.close();
  }
}

describe.skipIf(!available)("BatchUdpBind (native recvmmsg/sendmmsg, GSO/GRO)", () => {
  for (const opts of [
    { gso: false, gro: false },
    { gso: true, gro: false },
    { gso: true, gro: true },
  ]) {
    it(`delivers every datagram intact and in order (gso=${opts.gso}, gro=${opts.gro})`, async () => {
      // Runs of equal sizes with a shorter tail, then odd sizes: all GSO grouping cases.
      const sizes = [...Array(100).fill(1452), 200, ...Array(70).fill(1000), 60, 1, 1452, 900, 900];
      const r = await exchange(opts, sizes);
      expect(r.got.map((g) => g.data)).toEqual(r.sent);
      for (const g of r.got)
        expect(g.from).toEqual({ address: "127.0.0.1", port: r.aPort, family: 4 });
      // GSO runs were used exactly when enabled.
      expect((r.stats?.gsoSends ?? 0) > 0).toBe(opts.gso);
      // With GRO the receiver got coalesced buffers and split them again.
      expect((r.bStats?.groBuffers ?? 0) > 0).toBe(opts.gso && opts.gro);
    });
  }

  it("reports IPv6 senders with their IPv6 address", async () => {
    const r = await exchange({ gso: true, gro: true }, [100, 100, 1200], "::1", 6);
    expect(r.got.map((g) => g.data)).toEqual(r.sent);
    expect(r.got[0].from).toEqual({ address: "::1", port: r.aPort, family: 6 });
  });

  it("copies non-transport datagrams so a handler may keep them", async () => {
    const a = new BatchUdpBind();
    const b = new BatchUdpBind();
    const kept: Uint8Array[] = [];
    b.onReceive((data) => kept.push(data));
    try {
      await a.open(0);
      const port = await b.open(0);
      const init = new Uint8Array(148).fill(7);
      init[0] = 1;
      a.send({ address: "127.0.0.1", port, family: 4 }, init);
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 40; i++)
        a.send({ address: "127.0.0.1", port, family: 4 }, datagram(i, 148));
      await new Promise((r) => setTimeout(r, 200));
      expect(kept[0]).toEqual(init);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("refuses a port in use with EADDRINUSE and leaves the live socket alone", async () => {
    const a = new BatchUdpBind();
    const b = new BatchUdpBind();
    try {
      const port = await a.open(0);
      await expect(b.prepare(port)).rejects.toMatchObject({ code: "EADDRINUSE" });
      expect(a.port).toBe(port);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
