/**
 * Loads this package's one native addon (native/: Linux TUN + batched UDP) the first time it is
 * needed, through node-gyp-build: a local build (build/Release, made by `node-gyp rebuild` at
 * install) if there is one, else the prebuilt binary shipped in prebuilds/<platform>-<arch>/ —
 * so an install with `--ignore-scripts` or without a compiler still has it on linux-x64.
 *
 * The addon is optional: where it cannot load (another OS, another architecture without a
 * compiler) this module answers with the reason instead of throwing at import, and the callers
 * fall back (node:dgram for UDP) or explain what needs it (a kernel TUN).
 *
 * A binary built from other sources than this JavaScript (a stale build/ after a checkout moved
 * on, an old prebuild) is refused: its `abiVersion` must equal {@link ADDON_ABI}. Such a binary
 * once loaded fine and silently broke UDP receive. Refused, the TUN fails with a clear error and
 * UDP falls back to node:dgram with a process warning (code {@link ADDON_MISMATCH}).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The JS↔native contract version; native/abi.h's kAbiVersion must be the same number. */
export const ADDON_ABI = 4;

/** Warning and error code when the addon's binary does not match this JavaScript. */
export const ADDON_MISMATCH = "WIRESPAN_ADDON_MISMATCH";

export type LoadResult =
  | { ok: true; addon: Record<string, unknown> }
  | { ok: false; reason: Error & { code?: string } };

let result: LoadResult | undefined;

/**
 * This package's root (where binding.gyp, build/ and prebuilds/ are), found by name so that it
 * is right from src/, dist/ and from a bundle that inlined this module elsewhere (the CLIs').
 */
function packageRoot(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve("@wirespan/tun/package.json"));
  } catch {
    // src/ and dist/ both sit one level below the package root.
    return join(import.meta.dirname, "..");
  }
}

/**
 * Accepts `addon` (loaded from `where`) if it was built for this JavaScript, else says why not
 * and how to fix it.
 */
export function checkAddon(addon: Record<string, unknown>, where: string): LoadResult {
  if (addon.abiVersion === ADDON_ABI) return { ok: true, addon };
  const found =
    typeof addon.abiVersion === "number" ? `ABI ${addon.abiVersion}` : "no ABI version (older)";
  const reason: Error & { code?: string } = new Error(
    `the native addon in ${where} does not match this @wirespan/tun (it has ${found}, this ` +
      `JavaScript needs ABI ${ADDON_ABI}): it was built from other sources. Rebuild it ` +
      "(`npm rebuild @wirespan/tun`, or `pnpm --filter @wirespan/tun run build:native` in the " +
      "workspace) or reinstall the package",
  );
  reason.code = ADDON_MISMATCH;
  return { ok: false, reason };
}

/** The addon's exports, or why it cannot be loaded here. Tried once per process. */
export function loadAddon(): LoadResult {
  if (result !== undefined) return result;
  if (process.platform !== "linux") {
    result = {
      ok: false,
      reason: new Error(`the native addon is Linux-only (this is ${process.platform})`),
    };
    return result;
  }
  const root = packageRoot();
  let path: string;
  let addon: Record<string, unknown>;
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require("node-gyp-build") as {
      path(dir: string): string;
    };
    path = nodeGypBuild.path(root);
    addon = require(path) as Record<string, unknown>;
  } catch (err) {
    result = {
      ok: false,
      reason: new Error(
        `no native addon for ${process.platform}-${process.arch}: no prebuilt binary fits and ` +
          "none was built from source (that needs a C++ compiler, make and python3 at install)",
        { cause: err },
      ),
    };
    return result;
  }
  result = checkAddon(addon, path);
  if (!result.ok) {
    process.emitWarning(
      `${result.reason.message}. Until then UDP goes through node:dgram and a kernel TUN is ` +
        "unavailable.",
      { code: ADDON_MISMATCH },
    );
  }
  return result;
}
