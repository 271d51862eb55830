/**
 * Clean-room install (issue #10 §3): what an npm user gets. Packs every package (`pnpm build`,
 * linux-x64 prebuild of the addon, `pnpm pack`), installs the tarballs with npm into empty
 * projects outside the workspace — once with --ignore-scripts, once without — and with plain
 * `node` (no tsx, no source condition) runs the examples, the CLIs from node_modules/.bin, the
 * portable engine under Bun and Deno, and the fallback where the native addon cannot load.
 * publint and arethetypeswrong check every tarball.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
// A user's environment: no source condition, no TypeScript loader.
const env = { ...process.env, NODE_OPTIONS: "" };
const work = mkdtempSync(join(tmpdir(), "wirespan-clean-room-"));
const tarballs: string[] = [];

/** Runs a program in `cwd` as a user would; resolves with its output, rejects on failure. */
async function user(cwd: string, cmd: string, args: string[], timeout = 30_000) {
  return run(cmd, args, { cwd, env, timeout, maxBuffer: 16 << 20 });
}

function npmInstall(dir: string, ignoreScripts: boolean): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    '{ "name": "clean-room", "private": true, "type": "module" }\n',
  );
  mkdirSync(join(dir, "examples"));
  for (const f of readdirSync(join(root, "examples"))) {
    if (f.endsWith(".mjs")) cpSync(join(root, "examples", f), join(dir, "examples", f));
  }
  const args = ["install", "--no-audit", "--no-fund", "--loglevel=error"];
  if (ignoreScripts) args.push("--ignore-scripts");
  return execFileSync("npm", [...args, ...tarballs], {
    cwd: dir,
    env,
    encoding: "utf8",
    stdio: "pipe",
  });
}

/** The newest modification time under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) t = Math.max(t, statSync(join(f.parentPath, f.name)).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  execFileSync("pnpm", ["build"], { cwd: root, stdio: "ignore" });
  const tun = join(root, "packages", "tun");
  const prebuild = join(tun, "prebuilds", "linux-x64");
  if (!existsSync(prebuild) || newest(prebuild) < newest(join(tun, "native"))) {
    execFileSync("pnpm", ["run", "prebuildify"], { cwd: tun, stdio: "ignore" });
  }
  for (const pkg of ["noise", "tun", "mesh"]) {
    const out = execFileSync("pnpm", ["pack", "--pack-destination", work], {
      cwd: join(root, "packages", pkg),
      encoding: "utf8",
    });
    tarballs.push(out.trim().split("\n").pop() as string);
  }
  npmInstall(join(work, "ignore-scripts"), true);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("clean-room install of the packed packages", () => {
  const project = join(work, "ignore-scripts");

  it("publint and arethetypeswrong pass for every tarball", async () => {
    const { publint } = await import("publint");
    const { readFileSync } = await import("node:fs");
    for (const t of tarballs) {
      const buf = readFileSync(t);
      const r = await publint({
        pack: { tarball: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) },
        strict: true,
      });
      expect(r.messages, t).toEqual([]);
      await user(root, bin("attw"), [t, "--profile", "esm-only", "--format", "ascii"], 60_000);
    }
  }, 120_000);

  it("ships no tests and no TypeScript loader", () => {
    for (const t of tarballs) {
      const files = execFileSync("tar", ["-tzf", t], { encoding: "utf8" });
      expect(files).not.toMatch(/\/test\/|\.test\.ts/);
      expect(files).toMatch(/package\/dist\/index\.js/);
    }
    expect(existsSync(join(project, "node_modules", "tsx"))).toBe(false);
    expect(
      existsSync(join(project, "node_modules", "@wirespan", "tun", "prebuilds", "linux-x64")),
    ).toBe(true);
  });

  it("runs the device example with plain node: two Devices ping over loopback UDP", async () => {
    const { stdout } = await user(project, "node", ["examples/device-ping.mjs"]);
    expect(stdout).toMatch(/^ping 198\.19\.0\.2: echo reply in /m);
  });

  it("runs the mesh-node example with plain node", async () => {
    const { stdout } = await user(project, "node", ["examples/mesh-node.mjs"], 45_000);
    expect(stdout).toMatch(/node-a -> node-b: up/);
  }, 60_000);

  it("runs wirespan and wirespan-wg from node_modules/.bin", async () => {
    const dotbin = join(project, "node_modules", ".bin");
    const help = await user(project, join(dotbin, "wirespan"), ["--help"]);
    expect(help.stdout).toMatch(/usage: wirespan COMMAND/);
    const conf = await user(project, join(dotbin, "wirespan"), ["gen", "config"]);
    expect(conf.stdout).toMatch(/kubespan:/);
    const version = await user(project, join(dotbin, "wirespan-wg"), ["--version"]);
    expect(version.stdout).toMatch(/^wirespan-wg v\d+\.\d+\.\d+/);
  });

  it.skipIf(process.getuid?.() !== 0)("starts and stops wirespan-wg as root", async () => {
    const name = `wscr${process.pid.toString(36)}`.slice(0, 15);
    await user(project, join(project, "node_modules", ".bin", "wirespan-wg"), [name]);
    const sock = `/var/run/wireguard/${name}.sock`;
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let text = "";
        const c = connect(sock, () => c.write("get=1\n\n"));
        c.on("data", (d) => {
          text += d;
          if (text.endsWith("\n\n")) {
            c.end();
            resolve(text);
          }
        });
        c.on("error", reject);
      });
      expect(answer).toMatch(/errno=0/);
    } finally {
      execFileSync("ip", ["link", "del", name], { stdio: "ignore" });
    }
    const deadline = Date.now() + 10_000;
    while (existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock)).toBe(false);
  });

  it("typechecks in a consumer TypeScript project (strict, skipLibCheck false, only @types/node)", async () => {
    // A user's project has @types/node and nothing else of ours: every type our .d.ts files
    // reference must come with the packages (dependencies), not from our dev dependencies.
    const types = join(project, "node_modules", "@types");
    mkdirSync(types, { recursive: true });
    const nodeTypes = realpathSync(join(root, "node_modules", "@types", "node"));
    cpSync(nodeTypes, join(types, "node"), { recursive: true, dereference: true });
    // @types/node's own dependency, next to it in pnpm's store layout.
    cpSync(
      join(nodeTypes, "..", "..", "undici-types"),
      join(project, "node_modules", "undici-types"),
      {
        recursive: true,
        dereference: true,
      },
    );
    const entries = [
      "@wirespan/noise",
      "@wirespan/noise/crypto/node",
      "@wirespan/noise/crypto/portable",
      "@wirespan/noise/internal",
      "@wirespan/tun",
      "@wirespan/tun/netstack",
      "@wirespan/tun/netstack/node",
      "@wirespan/tun/internal",
      "@wirespan/mesh",
      "@wirespan/mesh/internal",
    ];
    writeFileSync(
      join(project, "consumer.ts"),
      `${entries.map((e, i) => `import * as m${i} from "${e}";`).join("\n")}\nexport const all = [${entries.map((_, i) => `m${i}`).join(", ")}];\n`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
        },
        files: ["consumer.ts"],
      }),
    );
    const r = await user(project, bin("tsc"), ["-p", "tsconfig.json"], 120_000).catch(
      (err: { stdout?: string; message: string }) => ({ stdout: err.stdout ?? err.message }),
    );
    expect(r.stdout).toBe("");
  }, 150_000);

  it("completes a handshake between two engines under Bun and Deno", async () => {
    const bun = await user(project, bin("bun"), ["examples/engine-custom-transport.mjs"]);
    expect(bun.stdout).toMatch(/handshake complete; B received/);
    const deno = await user(project, bin("deno"), [
      "run",
      "--allow-read",
      "--allow-env",
      "examples/engine-custom-transport.mjs",
    ]);
    expect(deno.stdout).toMatch(/handshake complete; B received/);
  }, 60_000);

  it("installs with install scripts too, from the prebuild (no compiler run)", () => {
    const dir = join(work, "with-scripts");
    npmInstall(dir, false);
    const tun = join(dir, "node_modules", "@wirespan", "tun");
    expect(existsSync(join(tun, "build"))).toBe(false);
    expect(existsSync(join(tun, "prebuilds", "linux-x64"))).toBe(true);
  }, 120_000);

  it("where the addon cannot load: imports work, UDP falls back to node:dgram, a kernel TUN names the netstack", async () => {
    rmSync(join(project, "node_modules", "@wirespan", "tun", "prebuilds"), { recursive: true });
    const { stdout } = await user(project, "node", ["examples/device-ping.mjs"]);
    expect(stdout).toMatch(/^ping 198\.19\.0\.2: echo reply in /m);
    writeFileSync(
      join(project, "no-addon.mjs"),
      `import { openLinuxTun } from "@wirespan/tun";
       try { await openLinuxTun({ name: "wsnone0" }); console.log("opened"); }
       catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    const r = JSON.parse((await user(project, "node", ["no-addon.mjs"])).stdout);
    expect(r.code).toBe("ERR_TUN_UNAVAILABLE");
    expect(r.message).toContain("@wirespan/tun/netstack");
  });
});
