/** A one-paragraph description of the machine and software a result was measured on. */
import { readFileSync } from "node:fs";
import { availableParallelism, release, totalmem } from "node:os";
import { run } from "../../test/support/netns.js";

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { timeout: 5_000 });
  return (r.stdout || r.stderr).split("\n")[0].trim() || "unknown";
}

export async function describeMachine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  const commit = await firstLine([
    "git",
    "-C",
    import.meta.dirname,
    "rev-parse",
    "--short",
    "HEAD",
  ]);
  const dirty = (
    await run(["git", "-C", import.meta.dirname, "status", "--porcelain", "--untracked-files=no"])
  ).stdout.trim()
    ? "+dirty"
    : "";
  return [
    `CPU: ${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    `kernel ${release()}, node ${process.version}`,
    await firstLine(["wireguard-go", "--version"]),
    await firstLine(["iperf3", "--version"]),
    `wirespan ${commit}${dirty}`,
  ].join("; ");
}
