import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { formatHostPort, parseListenAddress } from "../discovery/listen-address.js";
import { DiscoveryServer, type DiscoveryServerOptions } from "../discovery/server.js";
import { StunServer } from "../nat/stun-server.js";
import { parseClusterTokens } from "../relay/protocol.js";
import { RelayServer } from "../relay/server.js";
import { parseDuration } from "./args.js";

export { parseDuration };

/**
 * `wirespan discovery serve`: run the discovery service (kubespan.md §1) until SIGINT/SIGTERM
 * or until `control.signal` aborts, then end watchers, write the snapshot and return.
 */

export const DISCOVERY_SERVE_USAGE = `usage: wirespan discovery serve [options]
  --listen HOST:PORT          gRPC address (default :3000)
  --tls-cert FILE             PEM certificate chain (with --tls-key: serve TLS)
  --tls-key FILE              PEM private key
  --snapshot FILE             keep the registry in FILE across restarts
  --snapshot-interval DUR     how often to write the snapshot (default 10m)
  --gc-interval DUR           how often to expire affiliates (default 1m)
  --trust-forwarded-for       take client_ip from X-Real-IP / X-Forwarded-For (behind a proxy)
  --redirect HOST:PORT        answer every Hello with a redirect to HOST:PORT
  --metrics-listen HOST:PORT  serve Prometheus metrics at /metrics
  --stun-listen HOST:PORT     also answer STUN Binding requests (RFC 8489) on this UDP address
  --relay-listen HOST:PORT    also run a relay (\`wirespan relay serve\`) on this address: wss://
                              with --tls-cert/--tls-key (the same certificate), else ws://
  --relay-cluster-token TOKENS  clusters the relay serves (\`wirespan relay token\`; required
                              with --relay-listen: a relay never serves everyone)
DUR is a number with a unit: 500ms, 30s, 10m, 1h.`;

export interface DiscoveryServeControl {
  /** Stop the service when aborted (tests; the CLI uses SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Where the ready line and notices go (default process.stdout / process.stderr). */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Called once listening, with the running server. */
  onReady?: (server: DiscoveryServer) => void;
}

export async function discoveryServe(
  argv: string[],
  control: DiscoveryServeControl = {},
): Promise<void> {
  const out = control.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = control.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const options = parseDiscoveryServeArgs(argv);
  if (options === "help") {
    out(DISCOVERY_SERVE_USAGE);
    return;
  }
  const { stunListen, relay: relayOptions, ...serverOptions } = options;
  const server = await DiscoveryServer.start({ ...serverOptions, log: err });
  out(`discovery service listening on ${server.address}`);
  let stun: StunServer | null = null;
  let relay: RelayServer | null = null;
  try {
    if (stunListen) {
      const { host, port } = parseListenAddress(stunListen);
      stun = await StunServer.listen(host, port);
      out(`STUN listening on udp ${formatHostPort(host, stun.port)}`);
    }
    if (relayOptions) {
      const { host, port } = parseListenAddress(relayOptions.listen);
      relay = await RelayServer.start({
        host,
        port,
        tls: serverOptions.tls,
        clusters: relayOptions.clusters,
        log: err,
      });
      out(`relay listening on ${relay.url}`);
    }
  } catch (e) {
    await stun?.close();
    await server.close();
    throw e;
  }
  if (server.metricsAddress) out(`discovery metrics on http://${server.metricsAddress}/metrics`);
  control.onReady?.(server);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      control.signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (control.signal?.aborted) return stop();
    control.signal?.addEventListener("abort", stop);
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await relay?.close();
  await stun?.close();
  await server.close();
  out("discovery service stopped");
}

/** The service's options plus what `discovery serve` runs next to it. */
export type DiscoveryServeOptions = DiscoveryServerOptions & {
  stunListen?: string;
  /** The embedded relay: its listen address and the clusters it serves. */
  relay?: { listen: string; clusters: Map<string, Uint8Array> };
};

/** Flags → server options; throws an Error naming the bad flag. Leading "discovery serve" is skipped. */
export function parseDiscoveryServeArgs(argv: string[]): DiscoveryServeOptions | "help" {
  const args = [...argv];
  if (args[0] === "discovery") args.shift();
  if (args[0] === "serve") args.shift();
  const options: DiscoveryServeOptions = { listen: ":3000" };
  let relayListen: string | undefined;
  let relayTokens: string | undefined;
  let certFile: string | undefined;
  let keyFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") ? splitFlag(args[i]) : [args[i], undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "")
        throw new Error(`${flag} needs a value\n${DISCOVERY_SERVE_USAGE}`);
      return v;
    };
    switch (flag) {
      case "--help":
      case "-h":
        return "help";
      case "--listen":
        options.listen = value();
        break;
      case "--tls-cert":
        certFile = value();
        break;
      case "--tls-key":
        keyFile = value();
        break;
      case "--snapshot":
        options.snapshotFile = value();
        break;
      case "--snapshot-interval":
        options.snapshotIntervalMs = parseDuration(flag, value());
        break;
      case "--gc-interval":
        options.gcIntervalMs = parseDuration(flag, value());
        break;
      case "--trust-forwarded-for":
        options.trustForwardedFor = true;
        break;
      case "--redirect":
        options.redirectEndpoint = value();
        break;
      case "--metrics-listen":
        options.metricsListen = value();
        break;
      case "--stun-listen":
        options.stunListen = value();
        break;
      case "--relay-listen":
        relayListen = value();
        break;
      case "--relay-cluster-token":
        relayTokens = value();
        break;
      default:
        throw new Error(`unknown argument ${args[i]}\n${DISCOVERY_SERVE_USAGE}`);
    }
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error("--tls-cert and --tls-key go together");
  }
  if (certFile && keyFile) {
    options.tls = { cert: readPem("--tls-cert", certFile), key: readPem("--tls-key", keyFile) };
  }
  if ((relayListen === undefined) !== (relayTokens === undefined)) {
    throw new Error("--relay-listen and --relay-cluster-token go together");
  }
  if (relayListen !== undefined && relayTokens !== undefined) {
    try {
      options.relay = { listen: relayListen, clusters: parseClusterTokens(relayTokens) };
    } catch (e) {
      throw new Error(`--relay-cluster-token: ${(e as Error).message}`);
    }
  }
  return options;
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as Error).message}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  discoveryServe(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`wirespan discovery serve: ${error.message}\n`);
    process.exit(2);
  });
}
