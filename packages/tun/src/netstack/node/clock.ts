import { performance } from "node:perf_hooks";

/** The adapter's clock: monotonic milliseconds, the same one the Device gives its Engine. */
export const now = (): number => performance.now();
