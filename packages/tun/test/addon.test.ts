/**
 * The native addon's ABI check (src/addon.ts): a binary built from other sources than the
 * JavaScript is refused — a kernel TUN fails with a clear error, UDP falls back to node:dgram
 * with a warning — instead of loading and misbehaving (a stale addon once broke UDP receive).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ADDON_ABI, ADDON_MISMATCH, checkAddon, loadAddon } from "../src/addon.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");

describe("native addon ABI check", () => {
  it("native/abi.h and src/addon.ts name the same ABI version", () => {
    const header = readFileSync(join(root, "native", "abi.h"), "utf8");
    expect(Number(/kAbiVersion = (\d+);/.exec(header)?.[1])).toBe(ADDON_ABI);
  });

  it("accepts its own ABI and refuses another or none, saying how to rebuild", () => {
    expect(checkAddon({ abiVersion: ADDON_ABI }, "x.node").ok).toBe(true);
    for (const stale of [{ abiVersion: ADDON_ABI + 1 }, { abiVersion: 0 }, {}]) {
      const r = checkAddon(stale, "/p/build/Release/wirespan_tun.node");
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.reason.code).toBe(ADDON_MISMATCH);
      expect(r.reason.message).toMatch(/\/p\/build\/Release\/wirespan_tun\.node/);
      expect(r.reason.message).toMatch(/rebuild/i);
    }
  });

  it.skipIf(process.platform !== "linux")("the addon built for this checkout loads", () => {
    const r = loadAddon();
    expect(r.ok, r.ok ? "" : r.reason.message).toBe(true);
    if (r.ok) expect(r.addon.abiVersion).toBe(ADDON_ABI);
  });

  it.skipIf(process.platform !== "linux")(
    "a stale binary: UDP falls back to node:dgram with a warning, a kernel TUN fails clearly",
    async () => {
      // The child loads the real binary first and marks it as built for another ABI; the
      // loader's require() then gets that same module object, as from a stale build/.
      const child = `
        import { createRequire } from "node:module";
        const require = createRequire(${JSON.stringify(join(root, "package.json"))});
        const path = require("node-gyp-build").path(${JSON.stringify(root)});
        require(path).abiVersion = ${ADDON_ABI} + 1;
        const { nativeUdp, openLinuxTun } = await import("@wirespan/tun/internal");
        console.log("udp", nativeUdp() === null ? "dgram" : "native");
        try { await openLinuxTun({ name: "wsabi0" }); console.log("tun opened"); }
        catch (err) { console.log("tun", err.code, err.message); }
      `;
      const { stdout, stderr } = await run(
        process.execPath,
        ["--conditions=@wirespan/source", "--import", "tsx", "--input-type=module", "-e", child],
        { cwd: root, timeout: 30_000 },
      );
      expect(stdout).toMatch(/^udp dgram$/m);
      expect(stdout).toMatch(/^tun ERR_TUN_UNAVAILABLE .*does not match this @wirespan\/tun/m);
      expect(stderr).toMatch(new RegExp(`\\[${ADDON_MISMATCH}\\].*does not match`));
    },
  );
});
