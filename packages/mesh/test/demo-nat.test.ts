/**
 * The NAT part of `pnpm start` (cli/demo-nat.ts), in process: two nodes that drop each other's
 * UDP come up through a relay on loopback, a ping crosses it, and when UDP opens their path turns
 * direct — the relayed → direct upgrade of issue #12 without namespaces or root.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { runNatDemo } from "../src/cli/demo-nat.js";
import { DiscoveryServer } from "../src/discovery/server.js";

const base = mkdtempSync(join(tmpdir(), "wirespan-demo-nat-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

it("meets through the relay while UDP is blocked, then moves to the direct path", async () => {
  const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
  const lines: string[] = [];
  try {
    expect(await runNatDemo(discovery.address, base, (l) => lines.push(l))).toBe(true);
  } finally {
    await discovery.close();
  }
  const out = lines.join("\n");
  const relayed = out.search(/node-a\s+node-b\s+\S+\s+up\s+relayed/);
  const direct = out.search(/node-a\s+node-b\s+\S+\s+up\s+direct/);
  expect(relayed, out).toBeGreaterThan(0);
  expect(direct, out).toBeGreaterThan(relayed);
  expect(out).toMatch(/crossed the relay in \d+ ms \([1-9]\d* datagrams relayed/);
}, 60_000);
