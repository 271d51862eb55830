/**
 * @wirespan/tun's install step. The native addon (Linux TUN + batched UDP, native/) is optional:
 *
 * - not Linux: nothing to build — MemoryTun, the netstack and node:dgram need no addon;
 * - a prebuilt binary in prebuilds/ (or an earlier build in build/) loads: done, no compiler;
 * - otherwise build from source with node-gyp; where that fails, say what is lost and succeed,
 *   so the packages that depend on this one still install.
 *
 * With `--ignore-scripts` none of this runs, and nothing is lost on linux-x64: the addon is
 * found at load time (src/addon.ts) through node-gyp-build, which looks in prebuilds/.
 * `npm install --build-from-source` (npm_config_build_from_source) skips the prebuild; a build
 * older than the sources in native/ (a workspace checkout that moved on), or one whose ABI version
 * is not native/abi.h's (a stale binary), is redone.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const root = import.meta.dirname;
const say = (line) => process.stderr.write(`@wirespan/tun: ${line}\n`);

/** A build in build/ older than the C++ sources (a checkout that moved on) must be redone. */
function staleBuild() {
  const built = join(root, "build", "Release", "wirespan_tun.node");
  if (!existsSync(built)) return false;
  const at = statSync(built).mtimeMs;
  const sources = [join(root, "binding.gyp")];
  for (const f of readdirSync(join(root, "native"))) sources.push(join(root, "native", f));
  return sources.some((f) => statSync(f).mtimeMs > at);
}

/** The ABI the JavaScript expects (native/abi.h; src/addon.ts refuses any other binary). */
function expectedAbi() {
  const m = /kAbiVersion = (\d+)/.exec(readFileSync(join(root, "native", "abi.h"), "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}

function loads() {
  if (process.env.npm_config_build_from_source === "true" || staleBuild()) return false;
  try {
    return require(require("node-gyp-build").path(root)).abiVersion === expectedAbi();
  } catch {
    return false;
  }
}

function buildFromSource() {
  // npm and pnpm name the node-gyp they bundle; fall back to one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const [cmd, args] = gyp ? [process.execPath, [gyp, "rebuild"]] : ["node-gyp", ["rebuild"]];
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  return r.status === 0;
}

if (process.platform !== "linux") {
  say(`no native addon on ${process.platform}: kernel TUN unavailable, UDP through node:dgram`);
} else if (!loads()) {
  say("building the native addon from source with node-gyp");
  if (!buildFromSource()) {
    say(
      "could not build the native addon (needs a C++ compiler, make and python3). wirespan " +
        "still works without it: UDP goes through node:dgram, and instead of a kernel TUN use " +
        "the netstack (@wirespan/tun/netstack) or MemoryTun.",
    );
  }
}
