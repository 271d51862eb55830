/**
 * The batched-UDP bind on loopback: datagrams arrive intact, in order and with the right sender
 * whether they travel one by one, as GSO runs (split again by GRO or by the kernel) or mixed
 * sizes; IPv4 on the dual-stack socket is reported as family 4. The receive classifier
 * (native/classify.h) sorts a batch — transport, handshakes with mac2, the rest — and sheds
 * garbage and a one-source handshake flood before JavaScript sees them.
 */
import { expect, it } from "vitest";
import { describeRequiring } from "../../../test/support/privileged.js";
import { BatchUdpBind } from "../src/bind/batch-udp-bind.js";

// CI builds the addon: there a missing addon fails the suite instead of skipping it silently.
const missing = BatchUdpBind.available() ? null : "needs the native addon (pnpm install builds it)";

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
  const got: Array<{
    data: Uint8Array;
    from: { address: string; port: number; family: number };
    ip: string;
  }> = [];
  b.onReceive((data, from) =>
    got.push({
      data: data.slice(),
      from: { address: from.address, port: from.port, family: from.family },
      ip: from.ip === undefined ? "" : Buffer.from(from.ip).toString("hex"),
    }),
  );
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

/** A handshake-class message of `type` and `length`, mac2 zero or not (only its shape matters). */
function handshake(type: number, length: number, mac2: boolean): Uint8Array {
  const d = new Uint8Array(length);
  d[0] = type;
  for (let k = 4; k < length - 16; k++) d[k] = (k * 7 + type) & 0xff;
  if (mac2) d.fill(0x5a, length - 16);
  return d;
}

/**
 * Sends `datagrams` in one sendmmsg (they are all queued before the receiver runs), then waits
 * until `expected` datagrams arrived, or until one matches `until`.
 */
async function burst(
  datagrams: Uint8Array[],
  expected: number,
  until?: (g: { data: Uint8Array }) => boolean,
) {
  const a = new BatchUdpBind({ gso: false });
  const b = new BatchUdpBind();
  const got: Array<{ data: Uint8Array }> = [];
  b.onReceive((data) => got.push({ data: data.slice() }));
  try {
    await a.open(0);
    const port = await b.open(0);
    for (const d of datagrams) a.send({ address: "127.0.0.1", port, family: 4 }, d);
    const deadline = Date.now() + 3000;
    const done = () => (until ? got.some(until) : got.length >= expected);
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    const stats = b.stats();
    if (stats === null) throw new Error("no stats");
    return { got, stats };
  } finally {
    await a.close();
    await b.close();
  }
}

describeRequiring(missing, "BatchUdpBind (native recvmmsg/sendmmsg, GSO/GRO)", () => {
  for (const opts of [
    { gso: false, gro: false },
    { gso: true, gro: false },
    { gso: true, gro: true },
  ]) {
    it(`delivers every datagram intact and in order (gso=${opts.gso}, gro=${opts.gro})`, async () => {
      // Runs of equal sizes with a shorter tail, then odd sizes: all GSO grouping cases.
      const sizes = [
        ...Array(100).fill(1452),
        200,
        ...Array(70).fill(1000),
        60,
        32,
        1452,
        900,
        900,
      ];
      const r = await exchange(opts, sizes);
      expect(r.got.map((g) => g.data)).toEqual(r.sent);
      for (const g of r.got) {
        expect(g.from).toEqual({ address: "127.0.0.1", port: r.aPort, family: 4 });
        expect(g.ip).toBe("7f000001"); // the binary address the Engine uses without parsing
      }
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

  it("hands other small datagrams (STUN, probes) over last; sheds large ones, counted", async () => {
    const other = [new Uint8Array(1), handshake(1, 100, false), handshake(9, 148, false)];
    const large = handshake(9, 300, false);
    const r = await burst([...other, large, datagram(1, 64)], 4);
    expect(r.got.map((g) => g.data)).toEqual([datagram(1, 64), ...other]);
    expect(r.stats.shedInvalid).toBe(1);
  });

  it("hands over transport data first, then handshakes with a mac2, then the rest", async () => {
    const plain = handshake(1, 148, false);
    const withMac2 = handshake(2, 92, true);
    const cookie = handshake(3, 64, false);
    const order = [plain, datagram(1, 100), withMac2, cookie, datagram(2, 100)];
    const r = await burst(order, order.length);
    expect(r.got.map((g) => g.data)).toEqual([
      datagram(1, 100),
      datagram(2, 100),
      withMac2,
      plain,
      cookie,
    ]);
  });

  it("sheds a one-source handshake flood by its token bucket; transport still arrives", async () => {
    const flood = Array.from({ length: 400 }, () => handshake(1, 148, false));
    const r = await burst([...flood, datagram(7, 100)], 1, (g) => g.data[0] === 4);
    const handshakes = r.got.filter((g) => g.data[0] === 1).length;
    expect(r.got.some((g) => g.data[0] === 4)).toBe(true);
    // 16 before the queue depth counts as load, then the bucket's burst: far fewer than 400.
    expect(handshakes).toBeLessThan(40);
    expect(r.stats.shedRate + r.stats.shedBudget).toBe(400 - handshakes);
    expect(r.stats.underLoad).toBe(true);
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
