import { defineConfig } from "vitest/config";

export default defineConfig({
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
