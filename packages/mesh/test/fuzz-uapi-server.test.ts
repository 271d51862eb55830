/**
 * Fuzz of the UAPI socket (reference §1.4) over a real unix socket, serving a real Device over
 * MemoryTun + MemoryBind: random chunks, huge lines, NULs, invalid UTF-8, partial requests and
 * hang-ups give only `errno=…` answers (and get answers), the server keeps serving, and the
 * device configuration is unchanged by anything that is not a valid set.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryNetwork } from "../src/bind/memory-bind.js";
import { Device } from "../src/device.js";
import { UapiServer } from "../src/uapi-server.js";
import { type ExchangeOptions, enc, exchange as exchangeWith } from "./support/socket-exchange.js";

/** UAPI answers are bytes (latin1); without a half-close, 30 ms for answers to arrive. */
const uapi: ExchangeOptions = { encoding: "latin1", hangUpMs: 30 };
const exchange = (path: string, chunks: readonly Uint8Array[], halfClose: boolean) =>
  exchangeWith(path, chunks, halfClose, uapi);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * Request fragments. Key lines carry only invalid values, so no concatenation of fragments is a
 * set that changes anything; the empty set (`set=1\n\n`) is valid and changes nothing.
 */
const fragment = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }).map(enc) },
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(
        "get=1\n",
        "get=1\n\n",
        "set=1\n",
        "set=1\n\n",
        "\n",
        "\r\n",
        "get=2\n\n",
        "GET=1\n\n",
        "get=1\nx\n",
        "listen_port=99999\n",
        "listen_port=-1\n",
        "listen_port=0x10\n",
        "private_key=zz\n",
        "private_key=\n",
        "public_key=nothex\n",
        `public_key=${"0".repeat(63)}\n`,
        "endpoint=198.18.9.9:1\n",
        "allowed_ip=198.19.9.0/24\n",
        "persistent_keepalive_interval=70000\n",
        "fwmark=-3\n",
        "protocol_version=2\n",
        "unknown_key=1\n",
        "=\n",
        "\u0000\n",
        "set=1\u0000\n",
      )
      .map(enc),
  },
  { weight: 1, arbitrary: fc.constant(new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0x0a])) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(70 * 1024).fill(0x61)) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(3000).fill(0x0a)) },
);

describe("UAPI socket fuzz (Device over MemoryTun + MemoryBind)", () => {
  let dir: string;
  let device: Device;
  let server: UapiServer;
  let baseline: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wsf-uapi-"));
    const net = new MemoryNetwork();
    device = await Device.create({
      tun: new MemoryTun("wsf-uapi"),
      bind: net.bind("198.18.7.1"),
      listenPort: 51820,
    });
    const sk = nodeCrypto.randomBytes(32);
    const peer = nodeCrypto.x25519PublicKey(nodeCrypto.randomBytes(32));
    expect(
      await device.ipcSet(
        `private_key=${hex(sk)}\npublic_key=${hex(peer)}\nendpoint=198.18.7.2:51820\n` +
          "allowed_ip=198.19.2.0/24\npersistent_keepalive_interval=25\n",
      ),
    ).toBe(0);
    server = await UapiServer.listen("wsf-uapi", device, { dir });
    baseline = device.ipcGet();
  });
  afterAll(async () => {
    await server?.close();
    await device?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("any byte stream: only errno and get answers, config unchanged, server serves on", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fragment, { maxLength: 10 }),
        fc.boolean(),
        async (chunks, halfClose) => {
          const out = await exchange(server.path, chunks, halfClose);
          // Every answer is a block ending in a blank line; the last line of a block is errno.
          const blocks = out.split("\n\n");
          expect(blocks.pop()).toBe("");
          for (const block of blocks) {
            const lines = block.split("\n");
            expect(lines[lines.length - 1]).toMatch(/^errno=(0|-[0-9]+)$/);
            if (lines.length > 1) expect(`${block}\n`).toBe(baseline); // a get answer
          }
          expect(device.ipcGet()).toBe(baseline);
          // A fresh connection is served as usual.
          expect(await exchange(server.path, [enc("get=1\n\n")], true)).toBe(`${baseline}\n`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a set cut off by a hang-up mid-line and a set with a bad line change nothing", async () => {
    const other = hex(nodeCrypto.randomBytes(32));
    // A valid line followed by an invalid one: the whole set fails and nothing is applied.
    const out = await exchange(
      server.path,
      [enc(`set=1\nprivate_key=${other}\nlisten_port=99999\n\n`)],
      true,
    );
    expect(out).toMatch(/^errno=-[0-9]+\n\n$/);
    expect(device.ipcGet()).toBe(baseline);
    // A line longer than MAX_LINE inside a set: -EIO and the connection closes, nothing applied.
    const long = await exchange(
      server.path,
      [enc(`set=1\nprivate_key=${other}\n`), new Uint8Array(70 * 1024).fill(0x62)],
      true,
    );
    expect(long).toBe("errno=-5\n\n");
    expect(device.ipcGet()).toBe(baseline);
  });
});
