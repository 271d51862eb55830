// Preload for `pnpm bench:footprint --explain` (node --import): after FOOTPRINT_REPORT_MS, writes
// what the process holds to FOOTPRINT_REPORT as JSON — process.memoryUsage(), V8 heap spaces and
// code statistics, and the Node built-in modules loaded (process.moduleLoadList).
import { writeFileSync } from "node:fs";
import { getHeapCodeStatistics, getHeapSpaceStatistics } from "node:v8";

const file = process.env.FOOTPRINT_REPORT;
if (file) {
  setTimeout(
    () => {
      const builtins = process.moduleLoadList
        .filter((m) => m.startsWith("NativeModule "))
        .map((m) => m.slice("NativeModule ".length));
      writeFileSync(
        file,
        JSON.stringify({
          memory: process.memoryUsage(),
          spaces: getHeapSpaceStatistics().map((s) => ({
            name: s.space_name,
            used: s.space_used_size,
            size: s.space_size,
          })),
          code: getHeapCodeStatistics(),
          builtins,
        }),
      );
    },
    Number(process.env.FOOTPRINT_REPORT_MS ?? 3000),
  ).unref();
}
