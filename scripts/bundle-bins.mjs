/**
 * Third step of `pnpm build`: the published bins of @wirespan/mesh (`wirespan`, `wirespan-wg`) as
 * esbuild bundles in packages/mesh/dist/bin/, made from the compiled dist/cli/ entry points.
 *
 * Why: a daemon that loads ~70 compiled ES modules through Node's ESM loader idles 6.5 MB higher
 * and spends ~100 ms more CPU at start than the same code as one file (bench/RESULTS.md,
 * "Footprint"). The library entry points (dist/index.js …) stay unbundled for embedders.
 *
 * - Our workspace code (@wirespan/*) and the small pure-ESM @noble libraries are inlined; every
 *   other npm dependency stays an import resolved from @wirespan/mesh at run time (so mesh's
 *   package.json lists each of them: see its dependencies), native addons included.
 * - Code splitting: each subcommand (and the wirespan-wg daemon) is a chunk loaded when it runs,
 *   so `wirespan proxy` never parses the mesh controller and a daemonising parent parses little.
 * - Assets found next to a module by `new URL("./proto/x.proto", import.meta.url)` are copied to
 *   dist/bin/proto/; the TUN addon is found through @wirespan/tun's package root (tun/src/addon.ts).
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const mesh = join(import.meta.dirname, "..", "packages", "mesh");
const outdir = join(mesh, "dist", "bin");
const pkg = JSON.parse(readFileSync(join(mesh, "package.json"), "utf8"));
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
].filter((name) => !name.startsWith("@wirespan/") && !name.startsWith("@noble/"));

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    wirespan: join(mesh, "dist", "cli", "wirespan.js"),
    "wirespan-wg": join(mesh, "dist", "cli", "wirespan-wg.js"),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Bundled CommonJS (none today, but a dependency may become one) needs a real `require`.
  banner: {
    js: 'import { createRequire as __wirespanRequire } from "node:module"; const require = __wirespanRequire(import.meta.url);',
  },
  external,
  legalComments: "none",
  logLevel: "warning",
});
mkdirSync(join(outdir, "proto"), { recursive: true });
for (const proto of ["discovery/proto/cluster.proto", "kubespan/proto/affiliate.proto"]) {
  cpSync(join(mesh, "src", proto), join(outdir, "proto", proto.split("/").pop()));
}
for (const bin of ["wirespan.js", "wirespan-wg.js"]) chmodSync(join(outdir, bin), 0o755);
