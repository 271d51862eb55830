/**
 * The mesh controller's clock: monotonic milliseconds that start at the wall-clock time the
 * process started (`performance.timeOrigin`), so they still print as a date for `wirespan get`
 * while durations measured with them ignore NTP steps and manual clock changes.
 */
import { performance } from "node:perf_hooks";

export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
