/**
 * Loads this package's one native addon (native/: Linux TUN + batched UDP) the first time it is
 * needed, through node-gyp-build: a local build (build/Release, made by `node-gyp rebuild` at
 * install) if there is one, else the prebuilt binary shipped in prebuilds/<platform>-<arch>/ —
 * so an install with `--ignore-scripts` or without a compiler still has it on linux-x64.
 *
 * The addon is optional: where it cannot load (another OS, another architecture without a
 * compiler) this module answers with the reason instead of throwing at import, and the callers
 * fall back (node:dgram for UDP) or explain what needs it (a kernel TUN).
 */
import { createRequire } from "node:module";
import { join } from "node:path";

type LoadResult = { ok: true; addon: Record<string, unknown> } | { ok: false; reason: Error };

let result: LoadResult | undefined;

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
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require("node-gyp-build") as (dir: string) => Record<string, unknown>;
    // src/ and dist/ both sit one level below the package root.
    result = { ok: true, addon: nodeGypBuild(join(import.meta.dirname, "..")) };
  } catch (err) {
    result = {
      ok: false,
      reason: new Error(
        `no native addon for ${process.platform}-${process.arch}: no prebuilt binary fits and ` +
          "none was built from source (that needs a C++ compiler, make and python3 at install)",
        { cause: err },
      ),
    };
  }
  return result;
}
