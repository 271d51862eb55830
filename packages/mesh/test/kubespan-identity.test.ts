import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseMac } from "../src/kubespan/addressing.js";
import { base62Encode } from "../src/kubespan/base62.js";
import {
  identityAddressIp,
  loadOrCreateKubeSpanIdentity,
  loadOrCreateNodeIdentity,
} from "../src/kubespan/identity.js";

const clusterId = "8XuV9TZHW08DOk3bVxQjH9ih_TBKjnh-j44tsCLSBzo=";
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "wsk-identity-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("kubespan-identity.yaml (reference §3)", () => {
  it("is created once with mode 0600 and Talos's field names, then reused", () => {
    const mac = parseMac("2e:1a:b6:53:81:69");
    const a = loadOrCreateKubeSpanIdentity(dir, clusterId, mac);
    const path = join(dir, "kubespan-identity.yaml");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const onDisk = parse(readFileSync(path, "utf8"));
    expect(Object.keys(onDisk).sort()).toEqual(["address", "privateKey", "publicKey", "subnet"]);
    // Talos identity_test.go values for this cluster ID and MAC.
    expect(a.address).toBe("fd7f:175a:b97c:5602:2c1a:b6ff:fe53:8169/128");
    expect(a.subnet).toBe("fd7f:175a:b97c:5602::/64");
    expect(identityAddressIp(a)).toBe("fd7f:175a:b97c:5602:2c1a:b6ff:fe53:8169");
    const priv = Buffer.from(a.privateKey, "base64");
    expect(priv.length).toBe(32);
    expect(priv[0] & 7).toBe(0); // clamped (RFC 7748 §5)
    expect(priv[31] & 0xc0).toBe(0x40);
    expect(Buffer.from(nodeCrypto.x25519PublicKey(priv)).toString("base64")).toBe(a.publicKey);

    const b = loadOrCreateKubeSpanIdentity(dir, clusterId, mac);
    expect(b).toEqual(a);
  });

  it("keeps the key but recomputes the address when the MAC or cluster changes", () => {
    const a = loadOrCreateKubeSpanIdentity(dir, clusterId, parseMac("2e:1a:b6:53:81:69"));
    const b = loadOrCreateKubeSpanIdentity(dir, "other", null);
    expect(b.privateKey).toBe(a.privateKey);
    expect(b.subnet).not.toBe(a.subnet);
    expect(parse(readFileSync(join(dir, "kubespan-identity.yaml"), "utf8")).subnet).toBe(b.subnet);
    expect(statSync(join(dir, "kubespan-identity.yaml")).mode & 0o777).toBe(0o600);
  });

  it("refuses a file whose public key does not match its private key", () => {
    const a = loadOrCreateKubeSpanIdentity(dir, clusterId, null);
    const other = Buffer.alloc(32, 7).toString("base64");
    writeFileSync(
      join(dir, "kubespan-identity.yaml"),
      `privateKey: ${a.privateKey}\npublicKey: ${other}\n`,
    );
    expect(() => loadOrCreateKubeSpanIdentity(dir, clusterId, null)).toThrow(/does not match/);
    writeFileSync(join(dir, "kubespan-identity.yaml"), "privateKey: short\n");
    expect(() => loadOrCreateKubeSpanIdentity(dir, clusterId, null)).toThrow(/32 bytes/);
  });

  it("names the file when it is not valid YAML", () => {
    const path = join(dir, "kubespan-identity.yaml");
    writeFileSync(path, "privateKey: [unclosed\n");
    expect(() => loadOrCreateKubeSpanIdentity(dir, clusterId, null)).toThrow(
      `${path}: invalid YAML`,
    );
    const nodePath = join(dir, "node-identity.yaml");
    writeFileSync(nodePath, "nodeId: a\n  bad: indent\n");
    expect(() => loadOrCreateNodeIdentity(dir)).toThrow(`${nodePath}: invalid YAML`);
  });
});

describe("node-identity.yaml (reference §2.1)", () => {
  it("holds `nodeId`, base62 of 32 random bytes, created once (0600) and reused", () => {
    const a = loadOrCreateNodeIdentity(dir);
    expect(a.nodeId).toMatch(/^[0-9A-Za-z]{40,44}$/);
    const path = join(dir, "node-identity.yaml");
    expect(parse(readFileSync(path, "utf8"))).toEqual({ nodeId: a.nodeId });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateNodeIdentity(dir)).toEqual(a);
    const other = mkdtempSync(join(tmpdir(), "wsk-identity-"));
    try {
      expect(loadOrCreateNodeIdentity(other).nodeId).not.toBe(a.nodeId);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("base62 digits, by hand", () => {
    expect(base62Encode(Uint8Array.of(61))).toBe("z");
    expect(base62Encode(Uint8Array.of(62))).toBe("10");
    expect(base62Encode(Uint8Array.of(1, 0))).toBe("48"); // 256 = 4·62 + 8
    expect(base62Encode(Uint8Array.of(0, 1))).toBe("01");
  });
});
