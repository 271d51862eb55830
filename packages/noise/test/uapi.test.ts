import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCidr, makeCidr, parseCidr } from "../src/cidr.js";
import { type Endpoint, endpointKey, formatEndpoint, parseEndpoint } from "../src/endpoint.js";
import {
  EADDRINUSE,
  EINVAL,
  EIO,
  ENOENT,
  EPROTO,
  EUNKNOWN,
  UapiError,
  uapiErrnoOf,
} from "../src/errno.js";
import {
  type DeviceSnapshot,
  formatGet,
  formatSet,
  hexKey,
  parseGet,
  parseHexKey,
  parseSet,
  type SetRequest,
} from "../src/uapi.js";

const key = (b: number) => new Uint8Array(32).fill(b);
const K1 = hexKey(key(0x11));
const K2 = hexKey(key(0x22));
const ZERO = "0".repeat(64);

/** Runs `f` and returns the UapiError's errno (fails the test if it doesn't throw one). */
function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UapiError);
    return (e as UapiError).errno;
  }
  throw new Error("expected a UapiError");
}

describe("errno", () => {
  it("has Linux's numbers and wireguard-go's -55 for unknown", () => {
    expect([ENOENT, EIO, EINVAL, EPROTO, EADDRINUSE, EUNKNOWN]).toEqual([2, 5, 22, 71, 98, 55]);
    expect(uapiErrnoOf(new UapiError(EINVAL, "x"))).toBe(-22);
    expect(uapiErrnoOf(new Error("other"))).toBe(-55);
  });
});

describe("endpoint", () => {
  it("parses and prints v4 and bracketed v6 endpoints canonically", () => {
    expect(parseEndpoint("198.18.0.1:51820")).toEqual({
      address: "198.18.0.1",
      port: 51820,
      family: 4,
    });
    const e6 = parseEndpoint("[FD00:0:0::1]:0");
    expect(e6).toEqual({ address: "fd00::1", port: 0, family: 6 });
    expect(formatEndpoint(e6)).toBe("[fd00::1]:0");
    expect(formatEndpoint({ address: "fd00:0::1", port: 7, family: 6 })).toBe("[fd00::1]:7");
    expect(endpointKey(parseEndpoint("198.18.0.1:1"))).toBe("198.18.0.1:1");
    expect(endpointKey(parseEndpoint("[fd00::1]:1"))).not.toBe(
      endpointKey(parseEndpoint("[fd00::1]:2")),
    );
  });

  it("rejects garbage with a clear error", () => {
    for (const bad of [
      "",
      "198.18.0.1",
      "198.18.0.1:",
      "198.18.0.1:65536",
      "198.18.0.1:-1",
      "198.18.0.1:+5",
      "198.18.0.1:0x10",
      "256.18.0.1:1",
      "fd00::1:51820",
      "[fd00::1]",
      "[198.18.0.1]:1",
      "[fd00::1%eth0]:1",
      "host.example:51820",
      "[fd00::g]:1",
    ]) {
      expect(() => parseEndpoint(bad), bad).toThrow(/invalid endpoint/);
    }
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.integer({ min: 0, max: 65535 }),
        (addr, port) => {
          const family = addr.includes(":") ? 6 : 4;
          const text = family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
          const e: Endpoint = parseEndpoint(text);
          expect(parseEndpoint(formatEndpoint(e))).toEqual(e);
          expect(formatEndpoint(e)).toBe(endpointKey(e));
        },
      ),
    );
  });
});

describe("hex keys", () => {
  it("prints lowercase and parses both cases (like Go's hex decoder)", () => {
    const k = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    expect(hexKey(k)).toMatch(/^[0-9a-f]{64}$/);
    expect(parseHexKey(hexKey(k))).toEqual(k);
    expect(parseHexKey(hexKey(k).toUpperCase())).toEqual(k);
  });

  it("rejects wrong lengths and non-hex with EINVAL", () => {
    for (const bad of [
      "",
      "0".repeat(63),
      "0".repeat(65),
      `${"0".repeat(63)}g`,
      ` ${"0".repeat(63)}`,
    ]) {
      expect(errnoOf(() => parseHexKey(bad))).toBe(EINVAL);
    }
    expect(errnoOf(() => hexKey(new Uint8Array(31)))).toBe(EINVAL);
  });
});

describe("parseSet", () => {
  it("parses a full configuration (device section, then peers)", () => {
    const body = [
      `private_key=${hexKey(key(0xa0))}`,
      "listen_port=51820",
      "fwmark=4294967295",
      "replace_peers=true",
      `public_key=${K1}`,
      `preshared_key=${hexKey(key(0x33))}`,
      "endpoint=[fd00::2]:51821",
      "persistent_keepalive_interval=25",
      "replace_allowed_ips=true",
      "allowed_ip=198.19.0.2/32",
      "allowed_ip=fd00:1::/64",
      "protocol_version=1",
      `public_key=${K2}`,
      "update_only=true",
      "allowed_ip=-198.19.0.0/16",
      `public_key=${K1}`,
      "remove=true",
      "",
    ].join("\n");
    const r = parseSet(body);
    expect(r.privateKey).toEqual(key(0xa0));
    expect(r.listenPort).toBe(51820);
    expect(r.fwmark).toBe(4294967295);
    expect(r.replacePeers).toBe(true);
    expect(r.peers).toHaveLength(3);
    const [a, b, c] = r.peers;
    expect(a.publicKey).toEqual(key(0x11));
    expect(a.presharedKey).toEqual(key(0x33));
    expect(a.endpoint).toEqual({ address: "fd00::2", port: 51821, family: 6 });
    expect(a.persistentKeepalive).toBe(25);
    expect(a.replaceAllowedIps).toBe(true);
    expect(a.allowedIps.map((x) => [formatCidr(x.cidr), x.remove])).toEqual([
      ["198.19.0.2/32", false],
      ["fd00:1::/64", false],
    ]);
    expect(a.remove || a.updateOnly).toBe(false);
    expect(b.updateOnly).toBe(true);
    expect(b.replaceAllowedIps).toBe(false);
    expect(b.allowedIps).toEqual([{ cidr: parseCidr("198.19.0.0/16"), remove: true }]);
    expect(b.presharedKey).toBeUndefined();
    expect(b.endpoint).toBeUndefined();
    expect(b.persistentKeepalive).toBeUndefined();
    expect(c.remove).toBe(true);
  });

  it("parses what `wg set wg0 peer X allowed-ips 198.19.0.2/32 endpoint 198.18.0.2:51820` sends", () => {
    // wg(8) ipc-uapi.h order: public_key, endpoint, replace_allowed_ips=true, allowed_ip lines.
    const r = parseSet(
      `public_key=${K1}\nendpoint=198.18.0.2:51820\nreplace_allowed_ips=true\nallowed_ip=198.19.0.2/32\n`,
    );
    expect(r.privateKey).toBeUndefined();
    expect(r.listenPort).toBeUndefined();
    expect(r.replacePeers).toBe(false);
    expect(r.peers).toEqual([
      {
        publicKey: key(0x11),
        remove: false,
        updateOnly: false,
        endpoint: { address: "198.18.0.2", port: 51820, family: 4 },
        replaceAllowedIps: true,
        allowedIps: [{ cidr: parseCidr("198.19.0.2/32"), remove: false }],
      },
    ]);
    // `wg set wg0 private-key ... listen-port 0` and `wg set wg0 peer X remove`
    expect(parseSet(`private_key=${ZERO}\nlisten_port=0\nfwmark=0\n`)).toEqual({
      privateKey: null,
      listenPort: 0,
      fwmark: 0,
      replacePeers: false,
      peers: [],
    });
    expect(parseSet(`public_key=${K1}\nremove=true\n`).peers[0].remove).toBe(true);
  });

  it("parses set bodies captured from wg(8) (wireguard-tools v1.0.20210914, fake UAPI socket)", () => {
    // Bytes wg wrote after "set=1\n", blank line excluded; peer key is base64 ERER...E= (all 0x11).
    const P = "1".repeat(64);
    // wg set IF peer P allowed-ips 198.19.0.2/32 endpoint 198.18.0.2:51820
    const a = parseSet(
      `public_key=${P}\nendpoint=198.18.0.2:51820\nreplace_allowed_ips=true\nallowed_ip=198.19.0.2/32\n`,
    );
    expect(a.peers[0].endpoint).toEqual({ address: "198.18.0.2", port: 51820, family: 4 });
    expect(a.peers[0].replaceAllowedIps).toBe(true);
    // wg set IF listen-port 51820 fwmark 0x10 peer P persistent-keepalive 25 allowed-ips 198.19.0.2/32,fd00:1::/64
    const b = parseSet(
      `listen_port=51820\nfwmark=16\npublic_key=${P}\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=198.19.0.2/32\nallowed_ip=fd00:1::/64\n`,
    );
    expect([b.listenPort, b.fwmark, b.peers[0].persistentKeepalive]).toEqual([51820, 16, 25]);
    expect(b.peers[0].allowedIps.map((x) => formatCidr(x.cidr))).toEqual([
      "198.19.0.2/32",
      "fd00:1::/64",
    ]);
    // wg set IF peer P remove
    expect(parseSet(`public_key=${P}\nremove=true\n`).peers[0]).toMatchObject({
      remove: true,
      allowedIps: [],
    });
  });

  it("treats all-zero keys as removal and empty bodies as no-ops", () => {
    const r = parseSet(`private_key=${ZERO}\npublic_key=${K1}\npreshared_key=${ZERO}`);
    expect(r.privateKey).toBeNull();
    expect(r.peers[0].presharedKey).toBeNull();
    expect(parseSet("")).toEqual({ replacePeers: false, peers: [] });
    expect(parseSet("\n")).toEqual({ replacePeers: false, peers: [] });
  });

  it("drops allowed_ip lines that precede replace_allowed_ips (wireguard-go applies them in order)", () => {
    const r = parseSet(
      `public_key=${K1}\nallowed_ip=198.19.0.1/32\nreplace_allowed_ips=true\nallowed_ip=198.19.0.2/32\n`,
    );
    expect(r.peers[0].replaceAllowedIps).toBe(true);
    expect(r.peers[0].allowedIps.map((a) => formatCidr(a.cidr))).toEqual(["198.19.0.2/32"]);
  });

  it("masks host bits of allowed IPs and accepts CRLF line ends", () => {
    const r = parseSet(`public_key=${K1}\r\nallowed_ip=198.19.7.9/16\r\n`);
    expect(formatCidr(r.peers[0].allowedIps[0].cidr)).toBe("198.19.0.0/16");
  });

  it("accepts ports and keepalives at the bounds", () => {
    expect(parseSet("listen_port=65535").listenPort).toBe(65535);
    expect(parseSet("listen_port=00080").listenPort).toBe(80);
    expect(
      parseSet(`public_key=${K1}\npersistent_keepalive_interval=65535`).peers[0]
        .persistentKeepalive,
    ).toBe(65535);
    expect(
      parseSet(`public_key=${K1}\npersistent_keepalive_interval=0`).peers[0].persistentKeepalive,
    ).toBe(0);
  });

  const errors: Array<[string, string, number]> = [
    ["line without =", "listen_port", EPROTO],
    ["blank line inside the body", "listen_port=1\n\nfwmark=1", EPROTO],
    ["unknown device key", "foo=bar", EINVAL],
    ["empty key", "=1", EINVAL],
    ["unknown peer key", `public_key=${K1}\nfoo=bar`, EINVAL],
    ["device key after a peer", `public_key=${K1}\nlisten_port=1`, EINVAL],
    ["peer key before any peer", "endpoint=198.18.0.1:1", EINVAL],
    ["peer key before any peer (allowed_ip)", "allowed_ip=198.19.0.0/16", EINVAL],
    ["get-only key in set", `public_key=${K1}\ntx_bytes=1`, EINVAL],
    ["private key too short", `private_key=${"0".repeat(62)}`, EINVAL],
    ["private key not hex", `private_key=${"z".repeat(64)}`, EINVAL],
    ["public key too long", `public_key=${K1}00`, EINVAL],
    ["preshared key bad", `public_key=${K1}\npreshared_key=xyz`, EINVAL],
    ["listen_port too big", "listen_port=65536", EINVAL],
    ["listen_port negative", "listen_port=-1", EINVAL],
    ["listen_port empty", "listen_port=", EINVAL],
    ["listen_port hex", "listen_port=0x10", EINVAL],
    ["listen_port with space", "listen_port= 1", EINVAL],
    ["listen_port huge", "listen_port=99999999999999999999", EINVAL],
    ["fwmark too big", "fwmark=4294967296", EINVAL],
    ["fwmark not a number", "fwmark=abc", EINVAL],
    ["replace_peers=false", "replace_peers=false", EINVAL],
    ["update_only=1", `public_key=${K1}\nupdate_only=1`, EINVAL],
    ["remove=yes", `public_key=${K1}\nremove=yes`, EINVAL],
    ["replace_allowed_ips=false", `public_key=${K1}\nreplace_allowed_ips=false`, EINVAL],
    ["keepalive too big", `public_key=${K1}\npersistent_keepalive_interval=65536`, EINVAL],
    ["keepalive negative", `public_key=${K1}\npersistent_keepalive_interval=-1`, EINVAL],
    ["endpoint without port", `public_key=${K1}\nendpoint=198.18.0.1`, EINVAL],
    ["endpoint v6 without brackets", `public_key=${K1}\nendpoint=fd00::1:1`, EINVAL],
    ["endpoint port too big", `public_key=${K1}\nendpoint=198.18.0.1:65536`, EINVAL],
    ["endpoint hostname", `public_key=${K1}\nendpoint=example.com:1`, EINVAL],
    ["allowed_ip garbage", `public_key=${K1}\nallowed_ip=garbage`, EINVAL],
    ["allowed_ip without length", `public_key=${K1}\nallowed_ip=198.19.0.1`, EINVAL],
    ["allowed_ip /33", `public_key=${K1}\nallowed_ip=198.19.0.1/33`, EINVAL],
    ["allowed_ip double minus", `public_key=${K1}\nallowed_ip=--198.19.0.1/32`, EINVAL],
    ["protocol_version=2", `public_key=${K1}\nprotocol_version=2`, EINVAL],
    ["protocol_version empty", `public_key=${K1}\nprotocol_version=`, EINVAL],
  ];
  for (const [name, body, errno] of errors) {
    it(`rejects ${name} with ${errno === EPROTO ? "EPROTO" : "EINVAL"}`, () => {
      expect(errnoOf(() => parseSet(body))).toBe(errno);
    });
  }

  it("never throws anything but UapiError on garbage", () => {
    const token = fc.constantFrom(
      "public_key",
      "private_key",
      "preshared_key",
      "listen_port",
      "fwmark",
      "endpoint",
      "allowed_ip",
      "replace_peers",
      "replace_allowed_ips",
      "remove",
      "update_only",
      "protocol_version",
      "persistent_keepalive_interval",
      "=",
      "\n",
      "\r",
      "-",
      "/",
      ":",
      "[",
      "]",
      ".",
      "true",
      "1",
      "65536",
      K1,
      ZERO,
      "198.19.0.1",
      "fd00::1",
    );
    const body = fc.oneof(
      fc.string(),
      fc.array(fc.oneof(token, fc.string({ maxLength: 4 }))).map((a) => a.join("")),
    );
    fc.assert(
      fc.property(body, (b) => {
        try {
          parseSet(b);
        } catch (e) {
          expect(e).toBeInstanceOf(UapiError);
          expect([EINVAL, EPROTO]).toContain((e as UapiError).errno);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

const arbKey = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbCidr = fc
  .oneof(
    fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })),
    fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 })),
  )
  .map(([b, n]) => makeCidr(b, n));
const arbEndpoint = fc
  .tuple(
    fc.oneof(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    ),
    fc.integer({ min: 0, max: 65535 }),
  )
  .map(([b, port]) => {
    const c = makeCidr(b, b.length * 8);
    const text = formatCidr(c).split("/")[0];
    return parseEndpoint(c.family === 6 ? `[${text}]:${port}` : `${text}:${port}`);
  });
const nonZeroKey = arbKey.filter((k) => k.some((x) => x !== 0));

describe("round trips", () => {
  it("parseSet(formatSet(r)) == r", () => {
    const arbPeer = fc.record(
      {
        publicKey: arbKey,
        remove: fc.boolean(),
        updateOnly: fc.boolean(),
        presharedKey: fc.oneof(nonZeroKey, fc.constant(null)),
        endpoint: arbEndpoint,
        persistentKeepalive: fc.integer({ min: 0, max: 65535 }),
        replaceAllowedIps: fc.boolean(),
        allowedIps: fc.array(fc.record({ cidr: arbCidr, remove: fc.boolean() }), { maxLength: 5 }),
      },
      { requiredKeys: ["publicKey", "remove", "updateOnly", "replaceAllowedIps", "allowedIps"] },
    );
    const arbReq = fc.record(
      {
        privateKey: fc.oneof(nonZeroKey, fc.constant(null)),
        listenPort: fc.integer({ min: 0, max: 65535 }),
        fwmark: fc.integer({ min: 0, max: 0xffffffff }),
        replacePeers: fc.boolean(),
        peers: fc.array(arbPeer, { maxLength: 4 }),
      },
      { requiredKeys: ["replacePeers", "peers"] },
    );
    fc.assert(
      fc.property(arbReq, (r: SetRequest) => {
        expect(parseSet(formatSet(r))).toEqual(r);
      }),
    );
  });

  it("parseGet(formatGet(s)) == s", () => {
    const arbPeer = fc.record({
      publicKey: arbKey,
      presharedKey: fc.oneof(nonZeroKey, fc.constant(null)),
      endpoint: fc.oneof(arbEndpoint, fc.constant(null)),
      lastHandshakeNs: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
      txBytes: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      rxBytes: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      persistentKeepalive: fc.integer({ min: 0, max: 65535 }),
      allowedIps: fc.array(arbCidr, { maxLength: 5 }),
    });
    const arbSnap = fc.record({
      privateKey: fc.oneof(nonZeroKey, fc.constant(null)),
      listenPort: fc.integer({ min: 0, max: 65535 }),
      fwmark: fc.integer({ min: 0, max: 0xffffffff }),
      peers: fc.array(arbPeer, { maxLength: 4 }),
    });
    fc.assert(
      fc.property(arbSnap, (s: DeviceSnapshot) => {
        expect(parseGet(formatGet(s))).toEqual(s);
      }),
    );
  });
});

describe("formatGet", () => {
  it("prints wireguard-go's lines in wireguard-go's order", () => {
    const s: DeviceSnapshot = {
      privateKey: key(0xa0),
      listenPort: 51820,
      fwmark: 0,
      peers: [
        {
          publicKey: key(0x11),
          presharedKey: null,
          endpoint: parseEndpoint("198.18.0.2:51820"),
          lastHandshakeNs: 1_700_000_000_123_456_789n,
          txBytes: 1234n,
          rxBytes: 18446744073709551615n,
          persistentKeepalive: 25,
          allowedIps: [parseCidr("198.19.0.2/32"), parseCidr("fd00:1::/64")],
        },
        {
          publicKey: key(0x22),
          presharedKey: key(0x33),
          endpoint: null,
          lastHandshakeNs: 0n,
          txBytes: 0n,
          rxBytes: 0n,
          persistentKeepalive: 0,
          allowedIps: [],
        },
      ],
    };
    expect(formatGet(s)).toBe(
      [
        `private_key=${"a0".repeat(32)}`,
        "listen_port=51820",
        `public_key=${"11".repeat(32)}`,
        `preshared_key=${ZERO}`,
        "protocol_version=1",
        "endpoint=198.18.0.2:51820",
        "last_handshake_time_sec=1700000000",
        "last_handshake_time_nsec=123456789",
        "tx_bytes=1234",
        "rx_bytes=18446744073709551615",
        "persistent_keepalive_interval=25",
        "allowed_ip=198.19.0.2/32",
        "allowed_ip=fd00:1::/64",
        `public_key=${"22".repeat(32)}`,
        `preshared_key=${"33".repeat(32)}`,
        "protocol_version=1",
        "last_handshake_time_sec=0",
        "last_handshake_time_nsec=0",
        "tx_bytes=0",
        "rx_bytes=0",
        "persistent_keepalive_interval=0",
        "",
      ].join("\n"),
    );
  });

  it("omits private_key when unset or zero, and listen_port/fwmark when 0; an empty device prints nothing", () => {
    expect(formatGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] })).toBe("");
    expect(formatGet({ privateKey: new Uint8Array(32), listenPort: 0, fwmark: 7, peers: [] })).toBe(
      "fwmark=7\n",
    );
  });
});
