/**
 * A UAPI set on a Device is all or nothing (DESIGN.md "Configuration", issue #13 item 4): the
 * fwmark of a set that also changes listen_port lands on the new socket, a set that fails after
 * validation leaves port, mark and peers as they were, and a closed Device says so.
 */
import { execFileSync } from "node:child_process";
import { type CryptoProvider, EIO, ENODEV } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";
import { describe, expect, it } from "vitest";
import { describeRequiring, privilegedSkipReason } from "../../../test/support/privileged.js";
import { BatchUdpBind } from "../src/bind/batch-udp-bind.js";
import { MemoryNetwork } from "../src/bind/memory-bind.js";
import { UdpBind } from "../src/bind/udp-bind.js";
import { Device } from "../src/device.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const key = () => nodeCrypto.randomBytes(32);
const pub = (sk: Uint8Array) => hex(nodeCrypto.x25519PublicKey(sk));

describe("Device UAPI set is atomic", () => {
  it("a set that fails after validation changes neither the port nor any peer", async () => {
    const poison = nodeCrypto.x25519PublicKey(key());
    // A provider whose DH with one public key throws: an internal failure after parsing.
    const crypto: CryptoProvider = {
      ...nodeCrypto,
      x25519: (sk, pk) => {
        if (Buffer.from(pk).equals(Buffer.from(poison))) throw new Error("injected failure");
        return nodeCrypto.x25519(sk, pk);
      },
    };
    const net = new MemoryNetwork();
    const d = await Device.create({
      tun: new MemoryTun("wsd-at"),
      bind: net.bind("198.18.9.1"),
      crypto,
      listenPort: 51820,
    });
    try {
      expect(await d.ipcSet(`private_key=${hex(key())}\n`)).toBe(0);
      const before = d.ipcGet();
      const good = pub(key());
      const rc = await d.ipcSet(
        `listen_port=51821\npublic_key=${good}\nallowed_ip=198.19.9.2/32\n` +
          `public_key=${hex(poison)}\nallowed_ip=198.19.9.3/32\n`,
      );
      expect(rc).toBe(-EIO);
      expect(d.listenPort).toBe(51820);
      expect(d.peers()).toHaveLength(0);
      expect(d.ipcGet()).toBe(before);
    } finally {
      await d.close();
    }
  });

  it("a closed Device answers ENODEV, not EADDRINUSE", async () => {
    const d = await Device.create({
      tun: new MemoryTun("wsd-cl"),
      bind: new MemoryNetwork().bind("198.18.9.1"),
    });
    await d.close();
    expect(await d.ipcSet("listen_port=51830\n")).toBe(-ENODEV);
    expect(await d.ipcSet(`private_key=${hex(key())}\n`)).toBe(-ENODEV);
  });
});

const fwmarkSkip =
  privilegedSkipReason ?? (BatchUdpBind.available() ? null : "needs the native addon (SO_MARK)");

describeRequiring(fwmarkSkip, "Device UAPI set with listen_port and fwmark together", () => {
  /** The fwmark `ss` reports for the UDP socket on `port`, or null. */
  function markOf(port: number): string | null {
    const out = execFileSync("ss", ["-uanep", "sport", "=", `:${port}`]).toString();
    return /fwmark:(0x[0-9a-f]+)/.exec(out)?.[1] ?? null;
  }

  for (const native of [true, false]) {
    it(`marks the new socket (native: ${native})`, async () => {
      const d = await Device.create({
        tun: new MemoryTun("wsd-fm"),
        bind: new UdpBind({ native }),
        listenPort: 0,
      });
      try {
        const old = d.listenPort;
        expect(await d.ipcSet("listen_port=0\nfwmark=51820\n")).toBe(0);
        expect(d.listenPort).not.toBe(old);
        expect(markOf(d.listenPort)).toBe("0xca6c");
        // And a later rebind carries it over.
        expect(await d.ipcSet("listen_port=0\n")).toBe(0);
        expect(markOf(d.listenPort)).toBe("0xca6c");
      } finally {
        await d.close();
      }
    });
  }
});
