/**
 * Every program in examples/ runs to completion and does what its header says (issue #10 §5).
 * Here on the sources (tsx + the @wirespan/source condition, as every workspace test);
 * test/clean-room.test.ts runs them again with plain node against the packed packages.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const examples = join(import.meta.dirname, "..", "examples");

async function example(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(examples, name)], {
    cwd: examples,
    timeout: 45_000,
  });
  return stdout;
}

describe("examples/", () => {
  it("device-ping.mjs: two Devices ping each other through WireGuard over loopback UDP", async () => {
    expect(await example("device-ping.mjs")).toMatch(/^ping 198\.19\.0\.2: echo reply in /m);
  });

  it("engine-custom-transport.mjs: two Engines handshake over a MessageChannel", async () => {
    const out = await example("engine-custom-transport.mjs");
    expect(out).toContain("A: handshake-completed");
    expect(out).toMatch(/B received \d+-byte echo request from 198\.19\.0\.1/);
  });

  it("mesh-node.mjs: two mesh nodes find each other through discovery and come up", async () => {
    const out = await example("mesh-node.mjs");
    expect(out).toMatch(/node-a -> node-b: up via 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/node-b -> node-a: up via 127\.0\.0\.1:\d+/);
  }, 60_000);
});
