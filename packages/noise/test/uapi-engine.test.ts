import { describe, expect, it } from "vitest";
import type { Action } from "../src/actions.js";
import { MESSAGE_HANDSHAKE_INITIATION } from "../src/constants.js";
import { nodeCrypto } from "../src/crypto/node.js";
import { Engine } from "../src/engine.js";
import { hex, ipv4, pair } from "./support/net.js";

const key = (): Uint8Array => nodeCrypto.randomBytes(32);
const pub = (k: Uint8Array): string => hex(nodeCrypto.x25519PublicKey(k));

function engine(): Engine {
  return new Engine({ crypto: nodeCrypto });
}

function set(e: Engine, body: string): number {
  return e.ipcSet(body, 0, [] as Action[]);
}

describe("Engine.ipcSet / ipcGet (UAPI, reference §1.4)", () => {
  it("a set with a bad line in the middle changes nothing", () => {
    const e = engine();
    const sk = key();
    const p1 = pub(key());
    expect(
      set(
        e,
        `private_key=${hex(sk)}\nlisten_port=51820\npublic_key=${p1}\nallowed_ip=198.19.0.2/32\n`,
      ),
    ).toBe(0);
    const before = e.ipcGet();
    const p2 = pub(key());
    const bad = `listen_port=1234\nreplace_peers=true\npublic_key=${p2}\nallowed_ip=198.19.9.0/24\nallowed_ip=bogus\npublic_key=${p1}\nremove=true\n`;
    expect(set(e, bad)).toBe(-22);
    expect(e.ipcGet()).toBe(before);
    expect(set(e, "no_equals_sign\n")).toBe(-71);
    expect(e.ipcGet()).toBe(before);
  });

  it("beforeCommit can veto (negative errno) and nothing changes", () => {
    const e = engine();
    expect(set(e, `private_key=${hex(key())}\nlisten_port=51820\n`)).toBe(0);
    const before = e.ipcGet();
    const r = e.ipcSet(`listen_port=51821\npublic_key=${pub(key())}\n`, 0, [], (req) =>
      req.listenPort === 51821 ? -98 : 0,
    );
    expect(r).toBe(-98);
    expect(e.ipcGet()).toBe(before);
    expect(e.ipcSet("listen_port=51822\n", 0, [], () => 0)).toBe(0);
    expect(e.ipcGet()).toContain("listen_port=51822\n");
  });

  it("update_only, remove, -CIDR, replace_allowed_ips and replace_peers", () => {
    const e = engine();
    const [p1, p2, p3] = [pub(key()), pub(key()), pub(key())];
    set(
      e,
      `private_key=${hex(key())}\npublic_key=${p1}\nallowed_ip=198.19.1.0/24\nallowed_ip=fd00::1/128\n`,
    );
    set(e, `public_key=${p2}\nupdate_only=true\nallowed_ip=198.19.2.0/24\n`);
    expect(e.peers()).toHaveLength(1);
    set(
      e,
      `public_key=${p1}\nupdate_only=true\nallowed_ip=-198.19.1.0/24\npersistent_keepalive_interval=0\n`,
    );
    expect(e.ipcGet()).toContain("allowed_ip=fd00::1/128");
    expect(e.ipcGet()).not.toContain("198.19.1.0/24");
    set(e, `public_key=${p2}\nallowed_ip=198.19.2.0/24\npublic_key=${p3}\n`);
    expect(e.peers()).toHaveLength(3);
    set(e, `public_key=${p2}\nremove=true\n`);
    expect(
      e
        .peers()
        .map((p) => hex(p.publicKey))
        .sort(),
    ).toEqual([p1, p3].sort());
    set(e, `public_key=${p1}\nreplace_allowed_ips=true\nallowed_ip=198.19.5.5/32\n`);
    expect(e.peers()[0].allowedIps).toHaveLength(1);
    set(e, `replace_peers=true\npublic_key=${p3}\n`);
    expect(e.peers().map((p) => hex(p.publicKey))).toEqual([p3]);
  });

  it("ignores a peer with the device's own public key", () => {
    const e = engine();
    const sk = key();
    expect(
      set(e, `private_key=${hex(sk)}\npublic_key=${pub(sk)}\nallowed_ip=198.19.0.0/16\n`),
    ).toBe(0);
    expect(e.peers()).toHaveLength(0);
    expect(hex(e.publicKey as Uint8Array)).toBe(pub(sk));
  });

  it("a private key change makes the next packet start a handshake under the new identity", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(b.delivered).toHaveLength(1);
    const sk2 = key();
    net.set(a, `private_key=${hex(sk2)}\n`);
    net.set(
      b,
      `public_key=${hex(a.publicKey)}\nremove=true\npublic_key=${pub(sk2)}\nallowed_ip=198.19.0.1/32\n`,
    );
    const since = net.wire.length;
    const p = ipv4("198.19.0.1", "198.19.0.2", 20);
    net.send(a, p);
    expect(net.wire[since].data[0]).toBe(MESSAGE_HANDSHAKE_INITIATION);
    expect(b.delivered.at(-1)).toEqual(p);
  });

  it("ipcGet reports Unix-epoch handshake time, byte counters and keys in wireguard-go order", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    const lines = a.engine.ipcGet().split("\n");
    expect(lines[0]).toBe(`private_key=${hex(a.privateKey)}`);
    expect(lines[1]).toBe(`public_key=${hex(b.publicKey)}`);
    const sec = Number(lines.find((l) => l.startsWith("last_handshake_time_sec="))?.split("=")[1]);
    expect(sec).toBe(Math.floor(Number(net.wallBase / 1_000_000_000n) + net.now / 1000));
    // tx: initiation (148) + the staged 30-byte packet padded to 32 (32 + 32 = 64); it goes out
    // instead of the keepalive that follows a response. rx: the response (92).
    expect(lines).toContain("tx_bytes=212");
    expect(lines).toContain("rx_bytes=92");
  });
});
