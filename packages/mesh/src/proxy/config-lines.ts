/**
 * The line grammar of wg-quick files (`wg.8` CONFIGURATION FILE FORMAT): `[Section]` headers and
 * `Key = Value` lines, `#` starting a comment anywhere, names case-insensitive, sections
 * repeatable. Values keep their inner spaces. Every item carries its file and line so errors can
 * say where.
 */

/** A user's configuration mistake: `file:line: message`. */
export class ProxyConfigError extends Error {
  constructor(
    readonly detail: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    this.name = "ProxyConfigError";
  }
}

export interface ConfigLine {
  readonly key: string;
  /** Lower-cased key, for matching. */
  readonly name: string;
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

export interface ConfigSection {
  /** As written, e.g. "Peer". */
  readonly title: string;
  /** Lower-cased. */
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly entries: ConfigLine[];
}

/** Lines before the first section header go to a section named "" (wireproxy's `WGConfig`). */
export function splitSections(text: string, file: string): ConfigSection[] {
  const root: ConfigSection = { title: "", name: "", file, line: 0, entries: [] };
  const sections = [root];
  let current = root;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const hash = lines[i].indexOf("#");
    const raw = (hash < 0 ? lines[i] : lines[i].slice(0, hash)).trim();
    if (raw === "") continue;
    if (raw.startsWith("[")) {
      const m = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(raw);
      if (!m)
        throw new ProxyConfigError(
          `malformed section header ${JSON.stringify(raw.slice(0, 60))}`,
          file,
          lineNo,
        );
      current = { title: m[1], name: m[1].toLowerCase(), file, line: lineNo, entries: [] };
      sections.push(current);
      continue;
    }
    const eq = raw.indexOf("=");
    if (eq <= 0)
      throw new ProxyConfigError(
        `expected "Key = Value", got ${JSON.stringify(raw.slice(0, 60))}`,
        file,
        lineNo,
      );
    const key = raw.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_]+$/.test(key))
      throw new ProxyConfigError(`invalid key ${JSON.stringify(key.slice(0, 60))}`, file, lineNo);
    current.entries.push({
      key,
      name: key.toLowerCase(),
      value: raw.slice(eq + 1).trim(),
      file,
      line: lineNo,
    });
  }
  return sections;
}

/** Reads one section's keys against a schema: unknown keys and repeats of single keys are errors. */
export class SectionReader {
  private readonly used = new Set<ConfigLine>();

  constructor(readonly section: ConfigSection) {}

  private error(detail: string, at?: ConfigLine): ProxyConfigError {
    return new ProxyConfigError(
      detail,
      at?.file ?? this.section.file,
      at?.line ?? this.section.line,
    );
  }

  /** All lines of a repeatable key (Address, AllowedIPs, DNS), comma lists flattened. */
  list(name: string): Array<{ value: string; at: ConfigLine }> {
    const out: Array<{ value: string; at: ConfigLine }> = [];
    for (const e of this.section.entries) {
      if (e.name !== name) continue;
      this.used.add(e);
      for (const v of e.value.split(",")) {
        const t = v.trim();
        if (t !== "") out.push({ value: t, at: e });
      }
    }
    return out;
  }

  /** A key that may appear once. */
  one(name: string): ConfigLine | undefined {
    const found = this.section.entries.filter((e) => e.name === name);
    if (found.length > 1)
      throw this.error(`${found[1].key} given twice in [${this.section.title}]`, found[1]);
    if (found[0]) this.used.add(found[0]);
    return found[0];
  }

  required(name: string, display: string): ConfigLine {
    const e = this.one(name);
    if (!e) throw this.error(`[${this.section.title}] needs ${display}`);
    if (e.value === "") throw this.error(`${e.key} is empty`, e);
    return e;
  }

  /** An integer in [min, max]; `off` accepted as 0 when `offIsZero`. */
  int(name: string, min: number, max: number, offIsZero = false): number | undefined {
    const e = this.one(name);
    if (!e) return undefined;
    if (offIsZero && e.value.toLowerCase() === "off") return 0;
    if (!/^[0-9]{1,10}$/.test(e.value) || Number(e.value) < min || Number(e.value) > max) {
      throw this.error(
        `${e.key} must be an integer in ${min}..${max}, got ${JSON.stringify(e.value.slice(0, 40))}`,
        e,
      );
    }
    return Number(e.value);
  }

  /** Checked first, so a misspelt key is named as such rather than reported missing. */
  allowOnly(names: readonly string[]): void {
    for (const e of this.section.entries) {
      if (!names.includes(e.name))
        throw this.error(`unknown key ${e.key} in [${this.section.title}]`, e);
    }
  }

  /** Keys present but never read by the schema: an error naming the first. */
  rejectUnknown(ignored: readonly string[] = []): void {
    for (const e of this.section.entries) {
      if (this.used.has(e) || ignored.includes(e.name)) continue;
      throw this.error(`unknown key ${e.key} in [${this.section.title}]`, e);
    }
  }

  fail(detail: string, at?: ConfigLine): never {
    throw this.error(detail, at);
  }
}
