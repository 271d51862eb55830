/**
 * Second half of `pnpm build`: copies every file under packages/*\/src that tsc does not emit
 * (.proto schemas, …) to the same place under dist/, so code that finds an asset next to
 * itself (`new URL("./proto/x.proto", import.meta.url)`) works from the sources and the build.
 */
import { cpSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const packages = join(root, "packages");
for (const name of readdirSync(packages)) {
  const src = join(packages, name, "src");
  if (!existsSync(src)) continue;
  cpSync(src, join(packages, name, "dist"), {
    recursive: true,
    filter: (from) => !/\.(ts|tsx|mts|cts)$/.test(from),
  });
}
