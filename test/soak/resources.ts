/**
 * Resident memory and open file descriptors of every mesh process, sampled from /proc for the
 * whole soak, one series per process lifetime (a restarted node starts a new series). The check
 * (judge) asks whether a series grows: a leak per packet, per handshake, per reconnect or per
 * fault shows as a trend over the run, where a single threshold would only catch it once it is
 * already large — and would trip over a busy moment.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mannKendallIncreasingP, median, type Sample, senSlope } from "./trend.js";

export interface Series {
  readonly name: string;
  readonly pid: number;
  /** Seconds since the soak started, when the process started. */
  readonly startedAt: number;
  readonly rssKb: Sample[];
  readonly fds: Sample[];
  /** What the descriptors pointed to at the first and at the latest sample (socket, pipe, …). */
  firstFdKinds: string[];
  lastFdKinds: string[];
}

export class ResourceSampler {
  readonly series = new Map<number, Series>();

  /** Reads one sample of process `pid` (named `name`) at soak time `t`; false once it is gone. */
  sample(name: string, pid: number, startedAt: number, t: number): boolean {
    let rssKb: number;
    let kinds: string[];
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      kinds = readdirSync(`/proc/${pid}/fd`).map((fd) => fdKind(pid, fd));
    } catch {
      return false;
    }
    const fds = kinds.length;
    if (!Number.isFinite(rssKb)) return false; // a zombie has no VmRSS
    let s = this.series.get(pid);
    if (!s) {
      s = { name, pid, startedAt, rssKb: [], fds: [], firstFdKinds: kinds, lastFdKinds: kinds };
      this.series.set(pid, s);
    }
    // The baseline is the last start-up sample: growth is judged after the warm-up only.
    if (t - startedAt < DefaultJudge.warmupS) s.firstFdKinds = kinds;
    s.lastFdKinds = kinds;
    s.rssKb.push({ t, v: rssKb });
    s.fds.push({ t, v: fds });
    return true;
  }
}

/** A descriptor's kind: `socket`, `pipe`, `anon_inode:[eventfd]`, or the file's path. */
function fdKind(pid: number, fd: string): string {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, "");
  } catch {
    return "closed";
  }
}

/** Descriptor kinds the process holds more of at the end than at its first sample. */
export function fdsAdded(s: Series): string[] {
  const count = (xs: string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const first = count(s.firstFdKinds);
  const out: string[] = [];
  for (const [kind, n] of count(s.lastFdKinds)) {
    const more = n - (first.get(kind) ?? 0);
    if (more > 0) out.push(`${kind} +${more}`);
  }
  return out;
}

export interface TrendVerdict {
  readonly series: string;
  readonly what: "RSS" | "fds";
  readonly samples: number;
  readonly first: number;
  readonly last: number;
  /** Theil–Sen slope per minute. */
  readonly perMinute: number;
  readonly p: number;
  readonly growing: boolean;
  /** For descriptors: the kinds held more of at the end than at the start. */
  readonly added: string[];
}

export interface JudgeOptions {
  /** Samples younger than this (s of the process's life) are start-up, not trend. */
  readonly warmupS: number;
  /** Fewer judged samples than this: too short to call. */
  readonly minSamples: number;
  /** Mann–Kendall significance for "growing". */
  readonly alpha: number;
  /**
   * Smallest growth across the judged span that counts (Theil–Sen slope × span): rank tests call
   * any monotone drift significant given enough samples, and V8 grows its heap in steps early in
   * a process's life, so a trend must also be material to be a leak. The larger of `absolute`
   * (kB or descriptors) and `relative` × the series' median. A leak per packet, handshake or
   * fault passes this within minutes; a slow one needs a longer run (`--minutes`), which is
   * what a soak is for.
   */
  readonly minGrowth: {
    readonly RSS: { readonly absolute: number; readonly relative: number };
    readonly fds: { readonly absolute: number; readonly relative: number };
  };
}

export const DefaultJudge: JudgeOptions = {
  warmupS: 60,
  minSamples: 12,
  alpha: 0.01,
  minGrowth: { RSS: { absolute: 8 * 1024, relative: 0.08 }, fds: { absolute: 4, relative: 0 } },
};

/** Verdicts for every series long enough to judge. */
export function judge(series: Iterable<Series>, opts: JudgeOptions = DefaultJudge): TrendVerdict[] {
  const out: TrendVerdict[] = [];
  for (const s of series) {
    for (const what of ["RSS", "fds"] as const) {
      const all = what === "RSS" ? s.rssKb : s.fds;
      const judged = all.filter((x) => x.t - s.startedAt >= opts.warmupS);
      if (judged.length < opts.minSamples) continue;
      const p = mannKendallIncreasingP(judged.map((x) => x.v));
      const slope = senSlope(judged);
      const span = judged[judged.length - 1].t - judged[0].t;
      const min = opts.minGrowth[what];
      const material = Math.max(min.absolute, min.relative * median(judged.map((x) => x.v)));
      const growing = p < opts.alpha && slope * span >= material;
      out.push({
        series: `${s.name} (pid ${s.pid})`,
        what,
        samples: judged.length,
        first: judged[0].v,
        last: judged[judged.length - 1].v,
        perMinute: slope * 60,
        p,
        growing,
        added: what === "fds" ? fdsAdded(s) : [],
      });
    }
  }
  return out;
}

export function describeVerdict(v: TrendVerdict): string {
  const unit = v.what === "RSS" ? " kB" : "";
  const added = v.added.length > 0 ? ` (added: ${v.added.join(", ")})` : "";
  return `${v.series} ${v.what}: ${v.first}${unit} → ${v.last}${unit} over ${v.samples} samples, Sen slope ${v.perMinute.toFixed(1)}${unit}/min, Mann–Kendall p=${v.p.toExponential(1)}${added}`;
}
