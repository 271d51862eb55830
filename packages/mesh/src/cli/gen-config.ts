/**
 * `wirespan gen config`: a new mesh configuration with a fresh cluster ID and secret
 * (kubespan/config.ts `generateConfig`), printed or written to a file created 0600 (it holds the
 * cluster secret, which is also every peer's preshared key).
 */
import { writeFileSync } from "node:fs";
import { generateConfig } from "../kubespan/config.js";
import { parseArgs, UsageError } from "./args.js";

export const GEN_CONFIG_USAGE = `usage: wirespan gen config [--hostname NAME] [--discovery URL] [-o FILE [--force]]
  --hostname NAME     node hostname (default: this host's)
  --discovery URL     discovery service, http://host:port or https://host/ (default http://127.0.0.1:3000)
  -o, --output FILE   write to FILE (mode 0600) instead of stdout; --force replaces it`;

export function genConfig(argv: readonly string[], out: (text: string) => void): number {
  const args = parseArgs(argv, {
    values: { "--hostname": [], "--discovery": [], "--output": ["-o"] },
    switches: { "--force": [], "--help": ["-h"] },
  });
  if (args.switches.has("--help")) {
    out(`${GEN_CONFIG_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected ${args.positionals[0]}`);
  let text: string;
  try {
    text = generateConfig({
      hostname: args.values.get("--hostname"),
      discoveryEndpoint: args.values.get("--discovery"),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const file = args.values.get("--output");
  if (file === undefined) {
    out(text);
    return 0;
  }
  try {
    writeFileSync(file, text, { mode: 0o600, flag: args.switches.has("--force") ? "w" : "wx" });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === "EEXIST" ? `${file} exists (use --force to replace it)` : `${file}: ${e.message}`,
    );
  }
  return 0;
}
