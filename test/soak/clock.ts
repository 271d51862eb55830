/**
 * A wall clock that can be stepped for one process without touching the host's: libfaketime
 * (Debian `libfaketime`, preloaded with LD_PRELOAD) offsets CLOCK_REALTIME — what `Date.now()`
 * reads — by the value in a file it re-reads at most once a second, and leaves CLOCK_MONOTONIC
 * alone (FAKETIME_DONT_FAKE_MONOTONIC), which is what `performance.now()` and Node's timers use.
 * So a step is exactly what NTP does to a host: wall time jumps, monotonic time does not.
 * A time namespace cannot do this (it offsets only CLOCK_MONOTONIC/BOOTTIME), and stepping the
 * real clock would step every process on the machine.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The multi-threaded libfaketime (Node runs several threads), wherever Debian put it. */
export function findLibfaketime(): string {
  for (const dir of readdirSync("/usr/lib")) {
    const lib = join("/usr/lib", dir, "faketime", "libfaketimeMT.so.1");
    if (existsSync(lib)) return lib;
  }
  throw new Error("libfaketime is not installed (scripts/setup.sh installs it)");
}

/** A per-process wall-clock offset held in `file`. */
export class SteppableClock {
  private offset = 0;

  constructor(
    readonly file: string,
    private readonly lib: string,
  ) {
    this.write();
  }

  /** Environment for the process whose clock this is. */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return {
      ...base,
      LD_PRELOAD: this.lib,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
      FAKETIME_CACHE_DURATION: "1",
    };
  }

  /** Steps the wall clock by `seconds` (either sign); the process sees it within a second. */
  step(seconds: number): void {
    this.offset += seconds;
    this.write();
  }

  /** Seconds the clock is off real time. */
  get offsetSeconds(): number {
    return this.offset;
  }

  private write(): void {
    writeFileSync(this.file, `${this.offset >= 0 ? "+" : ""}${this.offset}\n`);
  }
}

/**
 * Proves the mechanism on this machine before the soak relies on it: a Node process with the
 * clock stepped an hour ahead must see `Date.now()` an hour ahead and the monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC since boot) where ours is.
 */
export function checkClockStep(lib: string, file: string): void {
  const clock = new SteppableClock(file, lib);
  clock.step(3600);
  const out = execFileSync(
    process.execPath,
    ["-e", "console.log(JSON.stringify([Date.now(), Number(process.hrtime.bigint() / 1000000n)]))"],
    { env: clock.env(), encoding: "utf8" },
  );
  const [wall, mono] = JSON.parse(out) as [number, number];
  const wallAhead = (wall - Date.now()) / 1000;
  const monoAhead = (mono - Number(process.hrtime.bigint() / 1000000n)) / 1000;
  if (Math.abs(wallAhead - 3600) > 30 || Math.abs(monoAhead) > 30) {
    throw new Error(
      `libfaketime does not step only the wall clock here (wall ${wallAhead} s ahead, monotonic ${monoAhead} s; expected 3600 and 0)`,
    );
  }
}
