/**
 * Where a daemon's megabytes come from (`pnpm bench:footprint --explain`): resident pages by
 * mapping (/proc/PID/smaps: the node binary's code and read-only data, anonymous memory — V8's
 * heap and JIT code —, the C heap, addons), V8's own accounting from a preload
 * (report-memory.mjs), the Node built-ins it loaded beyond a bare process, and which files it
 * read at start (strace: our modules and each npm package).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../test/support/netns.js";
import { startOnce, stopPid, type Variant } from "./probe.js";

const PRELOAD = join(import.meta.dirname, "report-memory.mjs");

interface Report {
  memory: NodeJS.MemoryUsage;
  spaces: Array<{ name: string; used: number; size: number }>;
  code: { code_and_metadata_size: number; bytecode_and_metadata_size: number };
  builtins: string[];
}

/** Resident kB per mapping class of `pid`. */
function smapsClasses(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let cls = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const [, perms, file] = m;
      if (file === "") cls = perms.includes("x") ? "anonymous, executable (JIT code)" : "anonymous";
      else if (file === "[heap]") cls = "C heap (malloc)";
      else if (file.startsWith("[")) cls = file;
      else if (file.endsWith(".node")) cls = "addons (.node)";
      else if (/\/node$/.test(file))
        cls = perms.includes("x") ? "node binary: code" : "node binary: data";
      else cls = "shared libraries";
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) out.set(cls, (out.get(cls) ?? 0) + Number(r[1]));
  }
  return out;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

/** The files under node_modules or packages/ that `trace` shows opened, grouped by package. */
function filesByPackage(trace: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of trace.matchAll(
    /openat\([^"]*"([^"]+\.(?:js|mjs|cjs|node|json))", [^)]*\) = \d/g,
  )) {
    const file = m[1];
    let pkg: string | undefined;
    const nm = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (nm) pkg = nm[1];
    const ws = /\/packages\/([^/]+)\//.exec(file);
    if (!pkg && ws) pkg = `@wirespan/${ws[1]}`;
    if (!pkg) continue;
    out.set(pkg, (out.get(pkg) ?? 0) + 1);
  }
  return out;
}

/** One explained start of each of `variants` (foreground, idle `idleMs`); Markdown. */
export async function explain(
  variants: readonly Variant[],
  ns: string,
  ifname: (i: number) => string,
  idleMs: number,
): Promise<string> {
  const columns: Array<{
    label: string;
    classes: Map<string, number>;
    report: Report | null;
    files: Map<string, number>;
    rss: number;
  }> = [];
  let baseBuiltins: Set<string> | null = null;
  for (const [i, v] of variants.entries()) {
    const report = join(tmpdir(), `footprint-${process.pid}-${i}.json`);
    const trace = join(tmpdir(), `footprint-${process.pid}-${i}.strace`);
    const isNode = v.argv[0] === "node";
    const traced: Variant = {
      label: v.label,
      argv: ["strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, ...v.argv],
      env: isNode
        ? {
            ...v.env,
            NODE_OPTIONS: `${v.env?.NODE_OPTIONS ?? ""} --import ${PRELOAD}`.trim(),
            FOOTPRINT_REPORT: report,
            FOOTPRINT_REPORT_MS: String(idleMs - 500),
          }
        : v.env,
    };
    let classes = new Map<string, number>();
    const start = await startOnce(traced, ns, ifname(i), true, idleMs, async (stracePid) => {
      // The traced program is strace's child.
      const kids = readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, "utf8").trim();
      const pid = Number(kids.split(/\s+/)[0] || stracePid);
      classes = smapsClasses(pid);
      await stopPid(pid); // strace would detach on SIGTERM and leave the daemon running
    });
    void start;
    const rep = existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as Report) : null;
    const files = existsSync(trace) ? filesByPackage(readFileSync(trace, "utf8")) : new Map();
    rmSync(report, { force: true });
    rmSync(trace, { force: true });
    if (rep && baseBuiltins === null) baseBuiltins = new Set(rep.builtins);
    let rss = 0;
    for (const kb of classes.values()) rss += kb;
    columns.push({ label: v.label, classes, report: rep, files, rss });
  }
  await run(["true"]);
  const lines: string[] = [];
  const head = `| | ${columns.map((c) => c.label).join(" | ")} |`;
  const sep = `|---|${columns.map(() => "---:").join("|")}|`;
  lines.push(
    "Resident memory by mapping, MB (smaps, one foreground start each, after idling):",
    "",
    head,
    sep,
  );
  const classNames = [...new Set(columns.flatMap((c) => [...c.classes.keys()]))].sort();
  for (const cls of classNames) {
    lines.push(
      `| ${cls} | ${columns.map((c) => ((c.classes.get(cls) ?? 0) / 1024).toFixed(1)).join(" | ")} |`,
    );
  }
  lines.push(`| **total** | ${columns.map((c) => (c.rss / 1024).toFixed(1)).join(" | ")} |`);
  lines.push(
    "",
    "V8's accounting (process.memoryUsage, getHeapCodeStatistics), MB:",
    "",
    head,
    sep,
  );
  const v8rows: Array<[string, (r: Report) => number]> = [
    ["heap total", (r) => r.memory.heapTotal],
    ["heap used", (r) => r.memory.heapUsed],
    ["external (Buffers, addons)", (r) => r.memory.external],
    ["bytecode + metadata", (r) => r.code.bytecode_and_metadata_size],
    ["machine code + metadata", (r) => r.code.code_and_metadata_size],
  ];
  for (const [name, f] of v8rows) {
    lines.push(
      `| ${name} | ${columns.map((c) => (c.report ? mb(f(c.report)) : "—")).join(" | ")} |`,
    );
  }
  for (const space of ["new_space", "old_space", "code_space"]) {
    lines.push(
      `| ${space} size | ${columns
        .map((c) => {
          const s = c.report?.spaces.find((x) => x.name === space);
          return s ? mb(s.size) : "—";
        })
        .join(" | ")} |`,
    );
  }
  lines.push("", "Files read at start (strace openat), by package:", "", head, sep);
  const pkgs = [...new Set(columns.flatMap((c) => [...c.files.keys()]))].sort();
  for (const p of pkgs)
    lines.push(`| ${p} | ${columns.map((c) => c.files.get(p) ?? 0).join(" | ")} |`);
  lines.push("", "Node built-in modules loaded beyond the first column's:", "");
  for (const c of columns.slice(1)) {
    const extra = (c.report?.builtins ?? []).filter(
      (b) => !baseBuiltins?.has(b) && !b.startsWith("internal/"),
    );
    lines.push(`- ${c.label}: ${extra.length ? extra.join(", ") : "none"}`);
  }
  return lines.join("\n");
}
