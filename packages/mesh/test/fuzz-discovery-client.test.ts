/**
 * Fuzz of what the discovery client reads from the network (reference/kubespan.md §2.2–§2.4):
 * affiliate blobs and endpoint blobs are attacker-controlled bytes (anyone who knows the cluster
 * ID can write them). Decryption and decoding give null / a typed Error, the client counts and
 * skips the bad affiliate or endpoint, and the rest of the snapshot is kept.
 */
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { formatIp, parseCidr, parseIp } from "@wirespan/noise";
import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import type { AffiliateMessage, WatchResponse } from "../src/discovery/proto.js";
import {
  type AffiliateData,
  decodeAffiliateData,
  decodeEndpoint,
  encodeAffiliateData,
  encodeEndpoint,
} from "../src/kubespan/affiliate.js";
import { DiscoveryClient } from "../src/kubespan/discovery-client.js";
import {
  openAffiliateData,
  openEndpoint,
  sealAffiliateData,
  sealEndpoint,
} from "../src/kubespan/discovery-crypto.js";
import { wire, wireFields } from "./fuzz-wire.js";

const secret = Buffer.alloc(32, 5).toString("base64");
const key = new Uint8Array(32).fill(5);
const otherKey = new Uint8Array(32).fill(6);

const root = protobuf.loadSync(
  fileURLToPath(new URL("../src/kubespan/proto/affiliate.proto", import.meta.url)),
);
const AffiliateType = root.lookupType("sidero.discovery.client.Affiliate");

/** Bytes the network might send in place of an affiliate record. */
const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  wireFields.map(wire),
  // Well-typed fields with values out of range (address lengths, prefix lengths, ports).
  fc
    .record({
      nodeId: fc.string(),
      addresses: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 }),
      hostname: fc.string(),
      kubespan: fc.option(
        fc.record({
          publicKey: fc.string(),
          address: fc.uint8Array({ maxLength: 20 }),
          additionalAddresses: fc.array(
            fc.record({ ip: fc.uint8Array({ maxLength: 20 }), bits: fc.nat() }),
            { maxLength: 4 },
          ),
        }),
        { nil: undefined },
      ),
      controlPlane: fc.option(fc.record({ apiServerPort: fc.nat() }), { nil: undefined }),
    })
    .map((raw) => AffiliateType.encode(AffiliateType.fromObject(raw)).finish()),
);

function checkData(d: AffiliateData): void {
  for (const a of d.addresses) expect(formatIp(parseIp(a))).toBe(a);
  if (d.kubespan) {
    if (d.kubespan.address) expect(formatIp(parseIp(d.kubespan.address))).toBe(d.kubespan.address);
    for (const p of d.kubespan.additionalAddresses) expect(parseCidr(p)).toBeTruthy();
  }
  for (const s of [d.nodeId, d.hostname, d.nodename, d.machineType, d.operatingSystem]) {
    expect(typeof s).toBe("string");
  }
}

/** decodeAffiliateData: data or a plain Error (which the client counts). */
function decodeOrNull(bytes: Uint8Array): AffiliateData | null {
  try {
    const d = decodeAffiliateData(bytes);
    checkData(d);
    return d;
  } catch (e) {
    if (!(e instanceof Error) || e instanceof TypeError) throw e;
    return null;
  }
}

function validData(n: number): AffiliateData {
  return {
    nodeId: `node-${n}`,
    addresses: [`198.18.0.${n}`],
    hostname: `node-${n}`,
    nodename: "",
    machineType: "worker",
    operatingSystem: "wirespan",
    kubespan: {
      publicKey: Buffer.alloc(32, n).toString("base64"),
      address: `fd00::${n}`,
      additionalAddresses: ["198.19.0.0/24"],
    },
    controlPlane: null,
  };
}

describe("affiliate and endpoint decoding fuzz", () => {
  it("decodeAffiliateData: well-formed data or an Error, never a TypeError", () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        decodeOrNull(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("well-typed records with bad addresses decode, skipping the bad ones", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 6 }),
        fc.array(fc.record({ ip: fc.uint8Array({ maxLength: 20 }), bits: fc.nat(300) })),
        (addresses, prefixes) => {
          const bytes = AffiliateType.encode(
            AffiliateType.fromObject({
              addresses,
              kubespan: { address: new Uint8Array(3), additionalAddresses: prefixes },
            }),
          ).finish();
          const d = decodeAffiliateData(bytes);
          checkData(d);
          const good = addresses.filter((a) => a.length === 4 || a.length >= 16);
          expect(d.addresses).toHaveLength(good.length);
          expect(d.kubespan?.address).toBe("");
          // A prefix length of 0 is indistinguishable from a missing one in proto3 and is
          // skipped rather than read as a default route (affiliate.ts).
          const goodPrefixes = prefixes.filter(
            (p) =>
              p.bits > 0 &&
              ((p.ip.length === 4 && p.bits <= 32) || (p.ip.length >= 16 && p.bits <= 128)),
          );
          expect(d.kubespan?.additionalAddresses).toHaveLength(goodPrefixes.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("openAffiliateData / openEndpoint: bytes or null for any blob, any key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (blob, right) => {
        const k = right ? key : otherKey;
        const plain = openAffiliateData(k, blob);
        expect(plain === null || plain instanceof Uint8Array).toBe(true);
        const ep = openEndpoint(k, blob);
        if (ep !== null) expect(ep.length).toBeLessThan(blob.length);
        if (ep !== null) {
          try {
            const text = decodeEndpoint(ep);
            expect(encodeEndpoint(text)).toBeTruthy();
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect(e).not.toBeInstanceOf(TypeError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("decodeEndpoint: canonical ip:port or an Error for any message bytes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), wireFields.map(wire)), (bytes) => {
        let text: string;
        try {
          text = decodeEndpoint(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect(e).not.toBeInstanceOf(TypeError);
          return;
        }
        expect(decodeEndpoint(encodeEndpoint(text))).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A stand-in for the gRPC Watch stream: the test emits what the service would send. */
class FakeStream extends EventEmitter {
  cancel(): void {}
}

function watchingClient(): { client: DiscoveryClient; stream: FakeStream } {
  const client = new DiscoveryClient({
    endpoint: "http://127.0.0.1:1",
    clusterId: "wsf-cluster",
    clusterSecret: secret,
    affiliateId: "self",
    port: 51820,
  });
  const stream = new FakeStream();
  // White box: start the client's watch handler on the fake stream (no gRPC channel).
  (client as unknown as { startWatch(c: { Watch(): FakeStream }): void }).startWatch({
    Watch: () => stream,
  });
  return { client, stream };
}

/** One hostile affiliate message: garbage data or endpoints in every way we know. */
const hostileAffiliate: fc.Arbitrary<AffiliateMessage> = fc.record(
  {
    id: fc.oneof(fc.string(), fc.constantFrom("self", "__proto__", "", "honest-1")),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      hostileBytes.map((b) => sealAffiliateData(key, b)),
      fc.constant(sealAffiliateData(otherKey, encodeAffiliateData(validData(9)))),
    ),
    endpoints: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }),
  },
  { requiredKeys: [] },
);

describe("discovery client watch handler fuzz", () => {
  it("a snapshot mixing honest and hostile affiliates keeps every honest one and counts the rest", () => {
    fc.assert(
      fc.property(
        fc.array(hostileAffiliate, { maxLength: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.tuple(hostileAffiliate, fc.boolean()), { maxLength: 4 }),
        (hostile, honestCount, later) => {
          const { client, stream } = watchingClient();
          const honest: AffiliateMessage[] = Array.from({ length: honestCount }, (_, i) => ({
            id: `honest-${i}`,
            data: sealAffiliateData(key, encodeAffiliateData(validData(i + 1))),
            endpoints: [
              sealEndpoint(key, encodeEndpoint(`198.18.1.${i + 1}:51820`)),
              new Uint8Array(5), // not a multiple of 16: dropped, counted
            ],
          }));
          // Hostile ones first: an honest record with the same ID later in the list wins.
          const affiliates = [...hostile, ...honest];
          let events = 0;
          client.on("affiliates", () => events++);
          stream.emit("data", { affiliates } satisfies WatchResponse);
          expect(events).toBe(1);

          const seen = client.affiliates;
          for (let i = 0; i < honestCount; i++) {
            const a = seen.get(`honest-${i}`);
            expect(a?.data).toEqual(validData(i + 1));
            expect(a?.endpoints).toEqual([`198.18.1.${i + 1}:51820`]);
          }
          expect(seen.has("self")).toBe(false);
          expect(seen.has("")).toBe(false);
          // Every hostile record is either in the map (it decrypted and decoded) or counted.
          const s = client.stats;
          const dropped = s.droppedShortData + s.droppedDecryptFailures + s.droppedDecodeFailures;
          const withData = hostile.filter(
            (a) => a.id && a.id !== "self" && a.data && a.data.length > 0,
          );
          const decodable = withData.filter((a) => {
            const plain = openAffiliateData(key, a.data as Uint8Array);
            return plain !== null && decodeOrNull(plain) !== null;
          });
          expect(dropped).toBe(withData.length - decodable.length);
          expect(s.droppedEndpoints).toBeGreaterThanOrEqual(honestCount);
          for (const a of seen.values()) checkData(a.data);

          // Deltas with hostile content: applied one by one, never throwing out of the handler.
          for (const [msg, deleted] of later) {
            stream.emit("data", { affiliates: [msg], deleted } satisfies WatchResponse);
          }
          expect(events).toBe(1 + later.length);
          const deletedIds = new Set(later.filter(([, d]) => d).map(([m]) => m.id));
          for (let i = 0; i < honestCount; i++) {
            if (!deletedIds.has(`honest-${i}`)) {
              expect(client.affiliates.has(`honest-${i}`)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("messages without fields, or with empty ones, are harmless", () => {
    const { client, stream } = watchingClient();
    for (const msg of [
      {},
      { affiliates: [] },
      { affiliates: [{}] },
      { affiliates: [{ id: "x" }], deleted: true },
      { affiliates: [{ id: "y", data: new Uint8Array(0), endpoints: [] }] },
    ] as WatchResponse[]) {
      stream.emit("data", msg);
    }
    expect(client.affiliates.size).toBe(0);
    expect(client.stats.watchMessages).toBe(5);
  });
});
