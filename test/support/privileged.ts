/**
 * Gate for tests that need root and network namespaces.
 *
 * Unprivileged users see such suites skipped with a clear reason. CI sets
 * WIRESPAN_REQUIRE_PRIVILEGED=1, which turns a skip into a failure so that an interop suite can
 * never silently stop running.
 */
import { execFileSync } from "node:child_process";
import { describe, it } from "vitest";

function probe(): string | null {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, TUN devices)";
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
  } catch {
    return "needs iproute2 with network namespace support";
  }
  return null;
}

/** Why privileged tests cannot run here, or null when they can. */
export const privilegedSkipReason: string | null = probe();

/** Like `describe`, for suites that need root and network namespaces. */
export function describePrivileged(name: string, fn: () => void): void {
  describeRequiring(privilegedSkipReason, name, fn);
}

/**
 * Like `describe`, for a suite that cannot run where `skipReason` is non-null (root, the native
 * addon, …): skipped with the reason on a developer machine, a failing test under
 * WIRESPAN_REQUIRE_PRIVILEGED=1 (CI), where everything it needs is installed.
 */
export function describeRequiring(skipReason: string | null, name: string, fn: () => void): void {
  if (skipReason === null) {
    describe(name, fn);
  } else if (process.env.WIRESPAN_REQUIRE_PRIVILEGED === "1") {
    describe(name, () => {
      it("has what it needs to run", () => {
        throw new Error(`suite cannot run: ${skipReason}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${skipReason})`, fn);
  }
}

/** Throws when a required system tool is missing, so a missing install shows up as a failure. */
export function requireTool(name: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${name} is not installed (scripts/setup.sh installs it)`);
  }
}
