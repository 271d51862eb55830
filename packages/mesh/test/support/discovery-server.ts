/**
 * A discovery service on 127.0.0.1 with a plain client (discovery-grpc-client.ts), closed after
 * each test, and the AffiliateUpdate most tests start from.
 */
import { afterEach } from "vitest";
import { DiscoveryServer, type DiscoveryServerOptions } from "../../src/discovery/server.js";
import { type ClusterClient, clusterClient, ttl, unary } from "../discovery-grpc-client.js";

/**
 * Registers the cleanup in the calling file; returns a starter for server + client pairs and the
 * list of cleanups run (last first) after each test, for a test's own watchers.
 */
export function discoveryServers() {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function start(options: Partial<DiscoveryServerOptions> = {}) {
    const server = await DiscoveryServer.start({ listen: "127.0.0.1:0", ...options });
    const client = clusterClient(server.address);
    cleanups.push(() => server.close());
    cleanups.push(() => client.close());
    return { server, client };
  }
  return { start, cleanups };
}

/** AffiliateUpdate of affiliate a1 in cluster c1 for 60 s, with `fields` on top. */
export const update = (client: ClusterClient, fields: Record<string, unknown>) =>
  unary(client, "AffiliateUpdate", {
    cluster_id: "c1",
    affiliate_id: "a1",
    ttl: ttl(60),
    ...fields,
  });
