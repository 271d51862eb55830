/**
 * Process accounting from /proc (proc(5)): CPU time and memory of the tunnel daemons.
 */
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100; // USER_HZ; fixed at 100 on every Linux ABI that exposes /proc/PID/stat

/** utime + stime of `pid` in seconds (fields 14 and 15 of /proc/PID/stat), or NaN if gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

export interface MemoryStatus {
  /** Resident set size now, bytes (VmRSS). */
  rss: number;
  /** Peak resident set size, bytes (VmHWM). */
  hwm: number;
}

/** VmRSS and VmHWM of `pid`, or NaN fields if the process is gone. */
export function memory(pid: number): MemoryStatus {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : Number.NaN;
    };
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

/** The command name of `pid` (/proc/PID/comm), or "" if gone. */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Direct children of `pid` (from every thread's /proc/PID/task/TID/children). */
export function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/**
 * The process among `root` and its descendants whose comm is `name` (breadth first): the
 * daemon behind `ip netns exec` or a launcher script.
 */
export function findProcess(root: number, name: string): number | null {
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (comm(pid) === name) return pid;
    queue.push(...children(pid));
  }
  return null;
}

/**
 * CPU time of every thread of `pid` in µs, from the scheduler's own accounting
 * (/proc/PID/task/TID/schedstat: ns on the CPU), finer than the 10 ms ticks of cpuSeconds; NaN
 * if gone. Threads that ended meanwhile are not counted.
 */
export function cpuMicros(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    }
    return ns / 1000;
  } catch {
    return Number.NaN;
  }
}
