import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { describe, expect, it } from "vitest";
import { discoveryServe, parseDiscoveryServeArgs } from "../src/cli/discovery-serve.js";
import type { DiscoveryServer } from "../src/discovery/server.js";
import { RelayClient } from "../src/relay/client.js";
import { formatClusterToken, relayToken } from "../src/relay/protocol.js";
import { clusterClient, ttl, unary } from "./discovery-grpc-client.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const READY = /^discovery service listening on (\S+)$/m;

describe("wirespan discovery serve", () => {
  it("parses its flags, including a leading `discovery serve`", () => {
    expect(
      parseDiscoveryServeArgs([
        "discovery",
        "serve",
        "--listen=127.0.0.1:4000",
        "--snapshot",
        "/tmp/x",
        "--snapshot-interval",
        "30s",
        "--gc-interval=500ms",
        "--trust-forwarded-for",
        "--redirect",
        "other:3000",
      ]),
    ).toEqual({
      listen: "127.0.0.1:4000",
      snapshotFile: "/tmp/x",
      snapshotIntervalMs: 30_000,
      gcIntervalMs: 500,
      trustForwardedFor: true,
      redirectEndpoint: "other:3000",
    });
    expect(parseDiscoveryServeArgs([])).toEqual({ listen: ":3000" });
    expect(parseDiscoveryServeArgs(["--help"])).toBe("help");
    expect(() => parseDiscoveryServeArgs(["--bogus"])).toThrow(/unknown argument --bogus/);
    expect(() => parseDiscoveryServeArgs(["--listen"])).toThrow(/--listen needs a value/);
    expect(() => parseDiscoveryServeArgs(["--snapshot-interval", "10"])).toThrow(/duration/);
    expect(() => parseDiscoveryServeArgs(["--tls-cert", "/nonexistent"])).toThrow(/go together/);
  });

  it("embeds a relay with --relay-listen: admits the cluster's nodes and forwards between them", async () => {
    const secret = nodeCrypto.randomBytes(32);
    const token = formatClusterToken("c1", relayToken(secret));
    expect(() => parseDiscoveryServeArgs(["--relay-listen", "127.0.0.1:0"])).toThrow(/go together/);
    expect(() =>
      parseDiscoveryServeArgs(["--relay-listen", "127.0.0.1:0", "--relay-cluster-token", "x"]),
    ).toThrow(/--relay-cluster-token: cluster token must be/);
    const lines: string[] = [];
    const abort = new AbortController();
    const running = discoveryServe(
      ["--listen", "127.0.0.1:0", "--relay-listen", "127.0.0.1:0", "--relay-cluster-token", token],
      { signal: abort.signal, out: (line) => lines.push(line), err: () => {} },
    );
    await expect.poll(() => /^relay listening on (\S+)$/m.exec(lines.join("\n"))).toBeTruthy();
    const url = /^relay listening on (\S+)$/m.exec(lines.join("\n"))![1];
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/wirespan\/relay$/);
    const keys = [0, 1].map(() => {
      const privateKey = nodeCrypto.randomBytes(32);
      return { privateKey, publicKey: nodeCrypto.x25519PublicKey(privateKey) };
    });
    const [a, b] = keys.map(
      (k) => new RelayClient({ url, ...k, clusterId: "c1", token: relayToken(secret) }),
    );
    try {
      const ups = [a, b].map((c) => new Promise((r) => c.once("state", r)));
      a.start();
      b.start();
      await Promise.all(ups);
      const got = new Promise<Uint8Array>((r) => b.once("packet", (_from, data) => r(data)));
      a.send(Buffer.from(keys[1].publicKey).toString("base64"), Uint8Array.of(4, 2));
      expect([...(await got)]).toEqual([4, 2]);
    } finally {
      a.close();
      b.close();
      abort.abort();
      await running;
    }
    expect(lines.at(-1)).toBe("discovery service stopped");
  });

  it("refuses a bad listen address with a clear error", async () => {
    await expect(discoveryServe(["--listen", "nonsense"], { out: () => {} })).rejects.toThrow(
      /HOST:PORT/,
    );
  });

  it("serves until aborted, prints the ready line and exposes Prometheus metrics", async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    let server: DiscoveryServer | undefined;
    const running = discoveryServe(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"], {
      signal: abort.signal,
      out: (line) => lines.push(line),
      err: () => {},
      onReady: (s) => {
        server = s;
      },
    });
    await expect.poll(() => server).toBeDefined();
    const address = READY.exec(lines.join("\n"))?.[1];
    expect(address).toBe(server!.address);
    const client = clusterClient(address!);
    await unary(client, "AffiliateUpdate", {
      cluster_id: "c",
      affiliate_id: "a",
      affiliate_data: Buffer.from("d"),
      ttl: ttl(60),
    });
    const text = await (await fetch(`http://${server!.metricsAddress}/metrics`)).text();
    expect(text).toContain("wirespan_discovery_clusters 1");
    expect(text).toContain("wirespan_discovery_affiliates 1");
    expect(text).toContain('wirespan_discovery_requests_total{method="AffiliateUpdate"} 1');
    client.close();
    abort.abort();
    await running;
    expect(lines.at(-1)).toBe("discovery service stopped");
  });

  it("runs as a process: ready line on stdout, answers Hello, exits 0 on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "packages/mesh/src/cli/discovery-serve.ts", "--listen", "127.0.0.1:0"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let stdout = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
      });
      await expect.poll(() => READY.test(stdout), { timeout: 15_000 }).toBe(true);
      const client = clusterClient(READY.exec(stdout)![1]);
      const hello = await unary<{ client_ip: Buffer }>(client, "Hello", { cluster_id: "c" });
      expect([...hello.client_ip]).toEqual([127, 0, 0, 1]);
      client.close();
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
