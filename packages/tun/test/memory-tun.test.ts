import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryTun, type TunDevice } from "../src/index.js";

const pkt = (...bytes: number[]) => Uint8Array.from(bytes);

describe("MemoryTun", () => {
  it("is a TunDevice with a name and MTU", () => {
    const tun: TunDevice = new MemoryTun("mem7", 1280);
    expect(tun.name).toBe("mem7");
    expect(tun.mtu).toBe(1280);
    const d = new MemoryTun();
    expect([d.name, d.mtu]).toEqual(["mem0", 1420]);
  });

  it("delivers injected batches as batches, in order", () => {
    const tun = new MemoryTun();
    const seen: number[][] = [];
    tun.onPackets((ps) => seen.push(ps.map((p) => p[0])));
    tun.inject([pkt(0x45, 1), pkt(0x45, 2)]);
    tun.inject([pkt(0x60, 3)]);
    expect(seen).toEqual([[0x45, 0x45], [0x60]]);
    expect(tun.stats()).toMatchObject({ readBatches: 2, packetsRead: 3 });
  });

  it("queues packets injected before a handler, like the kernel queue", () => {
    const tun = new MemoryTun();
    tun.inject([pkt(1)]);
    tun.inject([pkt(2), pkt(3)]);
    const seen: number[][] = [];
    tun.onPackets((ps) => seen.push(ps.map((p) => p[0])));
    expect(seen).toEqual([[1], [2, 3]]);
  });

  it("a later onPackets replaces the handler", () => {
    const tun = new MemoryTun();
    const a: number[] = [];
    const b: number[] = [];
    tun.onPackets((ps) => a.push(ps.length));
    tun.onPackets((ps) => b.push(ps.length));
    tun.inject([pkt(1)]);
    expect([a, b]).toEqual([[], [1]]);
  });

  it("records copies of written packets and passes them to every write handler", () => {
    const tun = new MemoryTun();
    const fromHandler: Uint8Array[][] = [];
    const counts: number[] = [];
    tun.onWrite((ps) => fromHandler.push(ps));
    tun.onWrite((ps) => counts.push(ps.length));
    const p = pkt(0x45, 9, 9);
    tun.write([p]);
    p[1] = 0; // the caller reuses its buffer
    expect(tun.written).toEqual([pkt(0x45, 9, 9)]);
    expect(fromHandler).toEqual([[pkt(0x45, 9, 9)]]);
    expect(counts).toEqual([1]);
  });

  it("drops and counts empty packets, as a TUN rejects them", () => {
    const tun = new MemoryTun();
    tun.write([new Uint8Array(0), pkt(0x45)]);
    expect(tun.written).toEqual([pkt(0x45)]);
    expect(tun.stats()).toMatchObject({ packetsWritten: 1, writeDrops: 1 });
  });

  it("keeps written packets equal to the non-empty inputs whatever the inputs (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), { maxLength: 8 }),
        (batches) => {
          const tun = new MemoryTun();
          for (const b of batches) tun.write(b);
          const all = batches.flat();
          const nonEmpty = all.filter((p) => p.length > 0);
          expect(tun.written).toEqual(nonEmpty);
          expect(tun.stats().packetsWritten + tun.stats().writeDrops).toBe(all.length);
          for (const w of tun.written) expect(all.some((p) => p === w)).toBe(false);
        },
      ),
    );
  });

  it("close fires onClose(null) once, then drops reads and writes", async () => {
    const tun = new MemoryTun();
    const reasons: Array<Error | null> = [];
    let delivered = 0;
    tun.onPackets(() => delivered++);
    tun.onClose((r) => reasons.push(r));
    await tun.close();
    await tun.close();
    expect(reasons).toEqual([null]);
    tun.inject([pkt(1)]);
    tun.write([pkt(0x45)]);
    expect(delivered).toBe(0);
    expect(tun.written).toEqual([]);
    expect(tun.stats().writeDrops).toBe(1);
  });

  it("calls an onClose registered after closing with the reason", async () => {
    const tun = new MemoryTun();
    const gone = new Error("interface deleted");
    tun.fail(gone);
    const reason = await new Promise<Error | null>((resolve) => tun.onClose(resolve));
    expect(reason).toBe(gone);
  });
});
