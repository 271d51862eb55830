/**
 * `wirespan get RESOURCE`: asks a running node over its control socket
 * (kubespan/control-socket.ts) and prints the rows as a table, YAML or JSON (resources.ts).
 */
import { ControlError, controlRequest, controlSocketPath } from "../kubespan/control-socket.js";
import {
  formatResources,
  type OutputFormat,
  type ResourceKind,
  ResourceKinds,
} from "../kubespan/resources.js";
import { parseArgs, UsageError } from "./args.js";
import { DefaultStateDir } from "./up.js";

export const GET_USAGE = `usage: wirespan get RESOURCE [-o table|yaml|json] [--state-dir DIR] [--watch] [--show-secrets]
  RESOURCE: identities, peerspecs, peerstatuses, endpoints (Talos names like kubespanpeerstatuses work too)
  -o, --output FMT    table (default), yaml or json
  --state-dir DIR     the node's state directory (default ${"/var/lib/wirespan"})
  -w, --watch         print again on every change until interrupted
  --show-secrets      include the private key in identities`;

const Aliases: Record<string, ResourceKind> = {};
for (const kind of ResourceKinds) {
  const singular = kind.endsWith("ses") ? kind.slice(0, -2) : kind.slice(0, -1);
  for (const name of [kind, singular, `kubespan${kind}`, `kubespan${singular}`])
    Aliases[name] = kind;
}
Aliases.identity = "identities";
Aliases.kubespanidentity = "identities";

export function parseResourceKind(text: string): ResourceKind {
  const kind = Aliases[text.toLowerCase()];
  if (!kind)
    throw new UsageError(`unknown resource ${text}; expected one of ${ResourceKinds.join(", ")}`);
  return kind;
}

export async function get(
  argv: readonly string[],
  out: (text: string) => void,
  signal?: AbortSignal,
): Promise<number> {
  const args = parseArgs(argv, {
    values: { "--output": ["-o"], "--state-dir": [] },
    switches: { "--watch": ["-w"], "--show-secrets": [], "--help": ["-h"] },
  });
  if (args.switches.has("--help")) {
    out(`${GET_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("expected exactly one RESOURCE");
  const kind = parseResourceKind(args.positionals[0]);
  const format = (args.values.get("--output") ?? "table") as OutputFormat;
  if (!["table", "yaml", "json"].includes(format)) {
    throw new UsageError(`-o must be table, yaml or json, not ${format}`);
  }
  const path = controlSocketPath(args.values.get("--state-dir") ?? DefaultStateDir);
  const watch = args.switches.has("--watch");
  let first = true;
  try {
    const rows = await controlRequest(
      path,
      { kind, watch, showSecrets: args.switches.has("--show-secrets") },
      watch
        ? (rows) => {
            if (!first) out(format === "table" ? "\n" : format === "yaml" ? "---\n" : "");
            first = false;
            out(formatResources(kind, rows, format));
          }
        : undefined,
      signal,
    );
    if (!watch) out(formatResources(kind, rows, format));
  } catch (err) {
    if (err instanceof ControlError) {
      process.stderr.write(`wirespan get: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  return 0;
}
