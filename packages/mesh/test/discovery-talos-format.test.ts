import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import { clusterClient, ttl, unary, Watcher } from "./discovery-grpc-client.js";

// Blobs shaped exactly as Talos makes them (kubespan.md §2.2 AES-256-GCM data, §2.3 AES-256-ECB
// endpoints with a length byte and zero padding) pass the service's limits, and the deterministic
// endpoint ciphertext lets the service de-duplicate an endpoint reported by two nodes (§1.4, §4.5).

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const key = randomBytes(32);

/** Plaintext `sidero.discovery.client.Endpoint`: ip = 1 (bytes), port = 2 (uint32), hand-encoded. */
function endpointProto(ip: number[], port: number): Buffer {
  const varint: number[] = [];
  for (let v = port; ; v >>>= 7) {
    if (v < 0x80) {
      varint.push(v);
      break;
    }
    varint.push((v & 0x7f) | 0x80);
  }
  return Buffer.from([0x0a, ip.length, ...ip, 0x10, ...varint]);
}

function encryptEndpoint(plain: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil((plain.length + 1) / 16) * 16);
  padded[0] = plain.length;
  plain.copy(padded, 1);
  const cipher = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]);
}

function decryptEndpoint(blob: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(blob), decipher.final()]);
  return padded.subarray(1, 1 + padded[0]);
}

function encryptData(plain: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

describe("discovery with Talos-format encrypted blobs", () => {
  it("accepts maximal real blobs and de-duplicates an endpoint two nodes report", async () => {
    const server = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    const nodeA = clusterClient(server.address);
    const nodeB = clusterClient(server.address);
    cleanups.push(
      () => server.close(),
      () => nodeA.close(),
      () => nodeB.close(),
    );

    const v6 = endpointProto([0xfd, ...new Array(14).fill(0), 1], 51820);
    const v4 = endpointProto([198, 18, 0, 1], 51820);
    const v6Blob = encryptEndpoint(v6);
    const v4Blob = encryptEndpoint(v4);
    // §2.3: IPv4 → one block, IPv6 → two blocks = the 32-byte server maximum.
    expect([v4Blob.length, v6Blob.length]).toEqual([16, 32]);
    // §2.2: 2020 bytes of plaintext + 28 bytes GCM overhead = the 2048-byte data maximum.
    const data = encryptData(randomBytes(2020));
    expect(data.length).toBe(2048);

    const watcher = new Watcher(nodeB, "cluster");
    cleanups.push(() => watcher.cancel());
    await watcher.next();
    await unary(nodeA, "AffiliateUpdate", {
      cluster_id: "cluster",
      affiliate_id: "node-a",
      affiliate_data: data,
      affiliate_endpoints: [v4Blob, v6Blob],
      ttl: ttl(1800),
    });
    // Node B harvested node A's v4 endpoint (same plaintext → same ciphertext) and one new one.
    const natBlob = encryptEndpoint(endpointProto([198, 19, 7, 7], 40000));
    await unary(nodeB, "AffiliateUpdate", {
      cluster_id: "cluster",
      affiliate_id: "node-a",
      affiliate_endpoints: [encryptEndpoint(v4), natBlob],
      ttl: ttl(1800),
    });
    await watcher.next();
    const merged = (await watcher.next()).affiliates?.[0];
    expect(merged?.data).toEqual(data);
    expect(merged?.endpoints?.map(decryptEndpoint)).toEqual([
      v4,
      v6,
      endpointProto([198, 19, 7, 7], 40000),
    ]);
  });
});
