/**
 * The soak's timeline: every fault, heal, recovery and check failure with the time since the
 * soak started (monotonic), printed as it happens and kept for the final report. A failing run
 * is re-run with the same `--seed` and compared line by line.
 */

export type EventKind = "setup" | "fault" | "heal" | "recovered" | "fail" | "info";

export interface TimelineEvent {
  /** Seconds since the timeline started. */
  readonly t: number;
  readonly kind: EventKind;
  readonly text: string;
}

export class Timeline {
  readonly events: TimelineEvent[] = [];
  private readonly t0 = performance.now();

  constructor(private readonly print: (line: string) => void = (l) => console.log(l)) {}

  /** Seconds since the start. */
  now(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Timeline seconds of a `performance.now()` reading. */
  at(perfNow: number): number {
    return (perfNow - this.t0) / 1000;
  }

  add(kind: EventKind, text: string): TimelineEvent {
    const e = { t: this.now(), kind, text };
    this.events.push(e);
    this.print(format(e));
    return e;
  }

  failures(): TimelineEvent[] {
    return this.events.filter((e) => e.kind === "fail");
  }

  /** The whole timeline as text. */
  toString(): string {
    return this.events.map(format).join("\n");
  }
}

export function format(e: TimelineEvent): string {
  return `t+${e.t.toFixed(1).padStart(6)}s  ${e.kind.padEnd(9)} ${e.text}`;
}
