/**
 * Tiny flag parser shared by the `wirespan` subcommands: `--flag value`, `--flag=value`, short
 * aliases, boolean switches and positionals. Unknown flags are a clear error.
 */

/** Bad command-line input: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface FlagSpec {
  /** Flags that take a value, with their aliases: `{ "--config": ["-c"] }`. */
  readonly values?: Record<string, readonly string[]>;
  /** Flags without a value. */
  readonly switches?: Record<string, readonly string[]>;
}

export interface ParsedArgs {
  readonly values: Map<string, string>;
  readonly switches: Set<string>;
  readonly positionals: string[];
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const canonical = new Map<string, { name: string; takesValue: boolean }>();
  for (const [name, aliases] of Object.entries(spec.values ?? {})) {
    for (const a of [name, ...aliases]) canonical.set(a, { name, takesValue: true });
  }
  for (const [name, aliases] of Object.entries(spec.switches ?? {})) {
    for (const a of [name, ...aliases]) canonical.set(a, { name, takesValue: false });
  }
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const known = canonical.get(flag);
    if (!known) throw new UsageError(`unknown flag ${flag}`);
    if (!known.takesValue) {
      if (eq >= 0) throw new UsageError(`${flag} takes no value`);
      switches.add(known.name);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") throw new UsageError(`${flag} needs a value`);
    values.set(known.name, value);
  }
  return { values, switches, positionals };
}

const DurationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `10m`, `1h` → milliseconds; throws an Error naming `flag` otherwise. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const ms = match ? Number(match[1]) * DurationUnits[match[2]] : 0;
  if (!match || ms <= 0) throw new Error(`${flag} must be a positive duration like 30s or 10m`);
  return ms;
}
