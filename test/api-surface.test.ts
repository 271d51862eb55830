/**
 * Pins the supported API (issue #10 §4): for every entry point a package exports (except
 * `./internal`, which is explicitly outside semver), the exported names, their kinds and the
 * public members of exported classes, as a report in test/api/. A change to the surface fails
 * here until the report is updated (`pnpm vitest run test/api-surface.test.ts -u`) and the
 * change is reviewed in the diff — API Extractor's review file, in a few lines of the compiler
 * API.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

interface EntryPoint {
  pkg: string;
  subpath: string;
  source: string;
}

function entryPoints(): EntryPoint[] {
  const out: EntryPoint[] = [];
  for (const dir of readdirSync(join(root, "packages"))) {
    const pkgDir = join(root, "packages", dir);
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
      if (subpath === "./internal" || typeof target !== "object" || target === null) continue;
      const source = (target as Record<string, string>)["@wirespan/source"];
      if (source) out.push({ pkg: pkg.name, subpath, source: join(pkgDir, source) });
    }
  }
  return out;
}

function kindOf(symbol: ts.Symbol): string {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return "class";
  if (f & ts.SymbolFlags.Interface) return "interface";
  if (f & ts.SymbolFlags.TypeAlias) return "type";
  if (f & ts.SymbolFlags.Function) return "function";
  if (f & ts.SymbolFlags.Enum) return "enum";
  if (f & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule)) return "namespace";
  if (f & ts.SymbolFlags.Variable) return "const";
  return "other";
}

function isPublic(decl: ts.Declaration): boolean {
  const mods = ts.getCombinedModifierFlags(decl);
  if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  const name = (decl as ts.NamedDeclaration).name;
  return !(name && ts.isPrivateIdentifier(name));
}

function classMembers(checker: ts.TypeChecker, symbol: ts.Symbol): string[] {
  const decl = symbol.declarations?.find(ts.isClassDeclaration);
  if (!decl) return [];
  const members: string[] = [];
  for (const m of decl.members) {
    if (ts.isConstructorDeclaration(m) || !m.name || !isPublic(m)) continue;
    const stat = ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static ? "static " : "";
    const name = m.name.getText();
    const type = checker.typeToString(
      checker.getTypeAtLocation(m),
      m,
      ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope,
    );
    members.push(`  ${stat}${name}: ${type}`);
  }
  return [...new Set(members)].sort();
}

function report(program: ts.Program, file: string): string {
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(file);
  if (!sf) throw new Error(`not in the program: ${file}`);
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  if (!moduleSymbol) return "(no exports)\n";
  const lines: string[] = [];
  for (const exp of checker
    .getExportsOfModule(moduleSymbol)
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const target = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    lines.push(`${kindOf(target)} ${exp.name}`);
    if (target.flags & ts.SymbolFlags.Class) lines.push(...classMembers(checker, target));
  }
  return `${lines.join("\n")}\n`;
}

describe("public API surface", () => {
  const entries = entryPoints();
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error("cannot read tsconfig.json");
  const program = ts.createProgram(
    entries.map((e) => e.source),
    config.options,
  );

  it("every package has a root entry point", () => {
    expect(
      entries
        .filter((e) => e.subpath === ".")
        .map((e) => e.pkg)
        .sort(),
    ).toEqual(["@wirespan/mesh", "@wirespan/noise", "@wirespan/tun"]);
  });

  for (const e of entries) {
    const sub = e.subpath === "." ? "" : `-${e.subpath.slice(2).replaceAll("/", "-")}`;
    const name = `${e.pkg.replace("@wirespan/", "")}${sub}`;
    it(`${e.pkg}${e.subpath.slice(1)} exports what test/api/${name}.api.txt lists`, async () => {
      await expect(report(program, e.source)).toMatchFileSnapshot(`api/${name}.api.txt`);
    });
  }
});
