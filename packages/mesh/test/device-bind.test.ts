/**
 * UdpBind on loopback: IPv4 peers on the dual-stack socket are reported as family 4 (not as
 * ::ffff: addresses), IPv6 works on the same port, and a failed rebind leaves the live socket.
 */

import { execFileSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import type { Endpoint } from "@wirespan/noise";
import { afterEach, describe, expect, it } from "vitest";
import { describePrivileged } from "../../../test/support/privileged.js";
import { BindError } from "../src/bind/bind.js";
import { UdpBind } from "../src/bind/udp-bind.js";

function received(bind: UdpBind): Promise<{ data: Uint8Array; from: Endpoint }> {
  return new Promise((resolve) => bind.onReceive((data, from) => resolve({ data, from })));
}

/**
 * A datagram shaped like a WireGuard transport message (type 4, at least 32 bytes): the batched
 * bind's classifier sheds anything else before JavaScript sees it.
 */
function wg(text: string): Buffer {
  const b = Buffer.alloc(32 + text.length);
  b[0] = 4;
  b.write(text, 32);
  return b;
}

const text = (d: Uint8Array) => Buffer.from(d).subarray(32).toString();

function socket(type: "udp4" | "udp6"): Promise<Socket> {
  const s = createSocket(type);
  return new Promise((r) => s.bind(0, type === "udp4" ? "127.0.0.1" : "::1", () => r(s)));
}

// Both implementations behind UdpBind: the batched-UDP addon (default where built) and
// node:dgram (native: false, or where the addon is missing).
describe.each([
  ["batched addon", true],
  ["node:dgram", false],
] as const)("UdpBind (%s)", (_label, native) => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it("receives IPv4 as family 4 and IPv6 as family 6 on one port, and answers both", async () => {
    const bind = new UdpBind({ native });
    const port = await bind.open(0);
    cleanup.push(() => bind.close());
    expect(port).toBeGreaterThan(0);
    expect(bind.port).toBe(port);

    for (const [type, host] of [
      ["udp4", "127.0.0.1"],
      ["udp6", "::1"],
    ] as const) {
      const peer = await socket(type);
      cleanup.push(() => peer.close());
      const got = received(bind);
      peer.send(wg("ping"), port, host);
      const { data, from } = await got;
      expect(text(data)).toBe("ping");
      expect({ address: from.address, port: from.port, family: from.family }).toEqual({
        address: host,
        port: peer.address().port,
        family: type === "udp4" ? 4 : 6,
      });
      const echo = new Promise<string>((r) => peer.once("message", (m) => r(text(m))));
      bind.send(from, wg("pong"));
      expect(await echo).toBe("pong");
    }
  });

  it("fails a rebind to a busy port with EADDRINUSE and keeps the live socket", async () => {
    const bind = new UdpBind({ native });
    const port = await bind.open(0);
    cleanup.push(() => bind.close());
    const squatter = await socket("udp6");
    cleanup.push(() => squatter.close());
    const busy = squatter.address().port;
    await expect(bind.prepare(busy)).rejects.toSatisfy(
      (e: unknown) => e instanceof BindError && e.code === "EADDRINUSE",
    );
    expect(bind.port).toBe(port);

    // Still receiving on the old port; then a prepared rebind that is aborted changes nothing.
    const prepared = await bind.prepare(0);
    expect(prepared.port).not.toBe(port);
    prepared.abort();
    expect(bind.port).toBe(port);
    const peer = await socket("udp4");
    cleanup.push(() => peer.close());
    const got = received(bind);
    peer.send(wg("still here"), port, "127.0.0.1");
    expect(text((await got).data)).toBe("still here");
  });

  it("moves to the new port on commit and frees the old one", async () => {
    const bind = new UdpBind({ native });
    const old = await bind.open(0);
    cleanup.push(() => bind.close());
    const next = await bind.prepare(0);
    next.commit();
    expect(bind.port).toBe(next.port);
    // The old port is free again: binding it succeeds.
    const s = createSocket("udp6");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(old, "::", () => resolve());
    });
    s.close();
  });

  it("uses the implementation asked for", async () => {
    const bind = new UdpBind({ native });
    cleanup.push(() => bind.close());
    expect(bind.batched).toBe(native);
  });

  it("counts sends that cannot go out instead of throwing", async () => {
    const bind = new UdpBind({ family: 4, native });
    await bind.open(0);
    cleanup.push(() => bind.close());
    bind.send({ address: "fd00:19::1", port: 9, family: 6 }, new Uint8Array(4));
    expect(bind.sendErrors).toBe(1);
  });
});

describePrivileged("UdpBind fwmark", () => {
  for (const native of [true, false]) {
    /** The fwmark `ss` reports for the UDP socket on `port` (needs CAP_NET_ADMIN), or null. */
    function markOf(port: number): string | null {
      const out = execFileSync("ss", ["-uanep", "sport", "=", `:${port}`]).toString();
      return /fwmark:(0x[0-9a-f]+)/.exec(out)?.[1] ?? null;
    }

    it(`sets SO_MARK on the live socket and carries it over a rebind; 0 removes it (native: ${native})`, async () => {
      const bind = new UdpBind({ native });
      try {
        const port = await bind.open(0);
        expect(markOf(port)).toBeNull();
        bind.setMark(0xca6c);
        expect(markOf(port)).toBe("0xca6c");
        const next = await bind.prepare(0);
        next.commit();
        expect(markOf(next.port)).toBe("0xca6c");
        bind.setMark(0);
        expect(markOf(next.port)).toBeNull();
      } finally {
        await bind.close();
      }
    });
  }
});
