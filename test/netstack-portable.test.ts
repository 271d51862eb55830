/**
 * The netstack's portable core outside Node: under Bun and Deno (installed from npm as
 * devDependencies), two stacks in memory complete a TCP exchange (test/netstack/portable-exchange.ts).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const script = join(import.meta.dirname, "netstack/portable-exchange.ts");
const bin = (name: string) => join(root, "node_modules/.bin", name);

describe("netstack core in other runtimes", () => {
  for (const [runtime, args] of [
    ["bun", ["run", script]],
    // Deno resolves the workspace's `.js` specifiers to the `.ts` sources with sloppy imports.
    ["deno", ["run", "--unstable-sloppy-imports", "--no-lock", script]],
  ] as const) {
    it(`completes a TCP exchange between two in-memory stacks under ${runtime}`, () => {
      expect(existsSync(bin(runtime)), `${runtime} is a devDependency (pnpm install)`).toBe(true);
      const out = execFileSync(bin(runtime), args, {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: "1" },
      });
      expect(out.trim()).toBe(`ok ${1 << 20}`);
    }, 90_000);
  }
});
