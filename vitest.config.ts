import { defineConfig } from "vitest/config";

/**
 * The workspace runs its tests on the TypeScript sources: every @wirespan/* package names them
 * under the "@wirespan/source" export condition (packaging: /work/coord/packaging.md, README
 * "Developing"). Vite resolves it for the test files; NODE_OPTIONS carries it to every Node
 * process a test spawns (`node --import tsx …`), so those run the sources too, never a stale
 * dist/.
 */
const SOURCE_CONDITION = "@wirespan/source";
const sourceFlag = `--conditions=${SOURCE_CONDITION}`;
if (!process.env.NODE_OPTIONS?.includes(sourceFlag)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} ${sourceFlag}`.trim();
}
// Vite's default server conditions, with ours first.
const conditions = [SOURCE_CONDITION, "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    setupFiles: ["test/support/fast-check-seed.ts"],
    hookTimeout: 60_000,
    // Privileged tests share network namespaces and interface names: run files one at a time.
    fileParallelism: false,
    reporters: ["default"],
  },
});
