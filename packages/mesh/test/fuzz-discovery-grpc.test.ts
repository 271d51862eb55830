/**
 * Fuzz of the discovery service's request decoding: arbitrary bytes (noise and ill-typed
 * protobuf) as the request message of every method. Each call ends with a gRPC status, the
 * stored state of an honest cluster is untouched, and the service keeps serving.
 */
import type { Client } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import { type ClusterClient, clusterClient, ttl, unary } from "./discovery-grpc-client.js";
import { wire, wireFields } from "./fuzz-wire.js";

const service = "/sidero.discovery.server.Cluster";
const unaryMethods = ["Hello", "AffiliateUpdate", "AffiliateDelete", "List"] as const;

/** Sends raw request bytes to a unary method; resolves with the status code (0 = OK). */
function rawUnary(client: ClusterClient, method: string, bytes: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    (client as Client).makeUnaryRequest(
      `${service}/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      { deadline: Date.now() + 5_000 },
      (error) => resolve(error?.code ?? 0),
    );
  });
}

/** Opens a Watch with raw request bytes; resolves when it fails, or cancels it after 20 ms. */
function rawWatch(client: ClusterClient, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const call = (client as Client).makeServerStreamRequest(
      `${service}/Watch`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      { deadline: Date.now() + 5_000 },
    );
    const timer = setTimeout(() => call.cancel(), 20);
    call.on("data", () => {});
    call.on("error", () => {});
    call.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe("discovery service fuzz (raw request bytes)", () => {
  let server: DiscoveryServer;
  let client: ClusterClient;

  beforeAll(async () => {
    server = await DiscoveryServer.start({
      listen: "127.0.0.1:0",
      limits: { rateLimitBurst: 1_000_000, rateLimitPerSecond: 1_000_000 },
    });
    client = clusterClient(server.address);
    await unary(client, "AffiliateUpdate", {
      cluster_id: "wsf-c1",
      affiliate_id: "honest",
      affiliate_data: Buffer.from("blob"),
      affiliate_endpoints: [Buffer.from("endpoint-1")],
      ttl: ttl(600),
    });
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  async function honestState(): Promise<unknown> {
    const listed = await unary<{ affiliates: { id: string; data: Buffer; endpoints: Buffer[] }[] }>(
      client,
      "List",
      { cluster_id: "wsf-c1" },
    );
    return listed.affiliates.map((a) => ({
      id: a.id,
      data: Buffer.from(a.data).toString("hex"),
      endpoints: a.endpoints.map((e) => Buffer.from(e).toString("hex")),
    }));
  }

  it("every method answers any bytes with a status, and honest state is unchanged", async () => {
    const before = await honestState();
    expect(before).toEqual([
      {
        id: "honest",
        data: Buffer.from("blob").toString("hex"),
        endpoints: [Buffer.from("endpoint-1").toString("hex")],
      },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...unaryMethods, "Watch"),
        fc.oneof(fc.uint8Array({ maxLength: 200 }), wireFields.map(wire)),
        async (method, bytes) => {
          if (method === "Watch") {
            await rawWatch(client, bytes);
          } else {
            const code = await rawUnary(client, method, bytes);
            expect(Number.isInteger(code)).toBe(true);
          }
        },
      ),
      { numRuns: 400 },
    );
    expect(await honestState()).toEqual(before);
  });
});
