/**
 * `wirespan relay serve` runs a relay (relay/server.ts) until SIGINT/SIGTERM; `wirespan relay
 * token --config FILE` prints the cluster token an operator gives the relay so it serves that
 * cluster (the cluster secret itself never leaves the nodes).
 */
import { readFileSync } from "node:fs";
import { parseListenAddress } from "../discovery/listen-address.js";
import { ConfigError, loadConfig } from "../kubespan/config.js";
import { clusterSecretKey } from "../kubespan/discovery-crypto.js";
import { formatClusterToken, parseClusterTokens, relayToken } from "../relay/protocol.js";
import { RelayServer } from "../relay/server.js";
import { parseArgs, parseDuration, UsageError } from "./args.js";

export const RELAY_USAGE = `usage: wirespan relay serve --listen HOST:PORT --cluster-token TOKEN[,TOKEN…] [options]
  --listen HOST:PORT        HTTPS/WebSocket address (443 behind HTTPS-only proxies)
  --cluster-token TOKENS    clusters served (\`wirespan relay token\` prints a cluster's token)
  --tls-cert FILE           PEM certificate chain (with --tls-key: wss://; without: ws://)
  --tls-key FILE            PEM private key
  --stun-port PORT          also answer STUN Binding requests on this UDP port (3478)
  --rate BYTES              per-node send rate in bytes/s (default 125000000)
  --idle-timeout DUR        close a node's connection after DUR without a frame or ping
                            (default 90s; nodes ping every 25s; 0 = never)
usage: wirespan relay token --config FILE`;

export interface RelayServeControl {
  readonly signal?: AbortSignal;
  readonly out?: (line: string) => void;
  readonly onReady?: (server: RelayServer) => void;
}

export async function relay(
  argv: readonly string[],
  control: RelayServeControl = {},
): Promise<number> {
  const out = control.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const [sub, ...rest] = argv;
  if (sub === "token") return token(rest, out);
  if (sub !== "serve")
    throw new UsageError("expected `wirespan relay serve` or `wirespan relay token`");
  const args = parseArgs(rest, {
    values: {
      "--listen": [],
      "--cluster-token": [],
      "--tls-cert": [],
      "--tls-key": [],
      "--stun-port": [],
      "--rate": [],
      "--idle-timeout": [],
    },
    switches: { "--help": ["-h"] },
  });
  if (args.switches.has("--help")) {
    out(RELAY_USAGE);
    return 0;
  }
  const listen = args.values.get("--listen");
  if (!listen) throw new UsageError("--listen HOST:PORT is required");
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseListenAddress(listen));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const tokens = args.values.get("--cluster-token");
  if (!tokens) throw new UsageError("--cluster-token is required: a relay never serves everyone");
  let clusters: Map<string, Uint8Array>;
  try {
    clusters = parseClusterTokens(tokens);
  } catch (err) {
    throw new UsageError(`--cluster-token: ${(err as Error).message}`);
  }
  const certFile = args.values.get("--tls-cert");
  const keyFile = args.values.get("--tls-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  const tls = certFile && keyFile ? { cert: readPem(certFile), key: readPem(keyFile) } : undefined;
  const stunPort = optionalInt(args.values.get("--stun-port"), "--stun-port", 0, 65535);
  const rate = optionalInt(args.values.get("--rate"), "--rate", 1, 2 ** 32 - 1);
  const idleText = args.values.get("--idle-timeout");
  let idleTimeoutMs: number | undefined;
  if (idleText === "0") idleTimeoutMs = 0;
  else if (idleText !== undefined) {
    try {
      idleTimeoutMs = parseDuration("--idle-timeout", idleText);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const server = await RelayServer.start({
    host,
    port,
    tls,
    clusters,
    stunPort,
    rateBytesPerSecond: rate,
    idleTimeoutMs,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  out(`relay listening on ${server.url}${server.stun ? `, STUN on udp ${server.stun.port}` : ""}`);
  control.onReady?.(server);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    if (control.signal?.aborted) return stop();
    control.signal?.addEventListener("abort", stop, { once: true });
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await server.close();
  out("relay stopped");
  return 0;
}

function token(argv: readonly string[], out: (line: string) => void): number {
  const args = parseArgs(argv, { values: { "--config": ["-c"] }, switches: {} });
  const file = args.values.get("--config");
  if (!file) throw new UsageError("--config FILE is required");
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(readFileSync(file, "utf8"));
  } catch (err) {
    if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code) {
      throw new UsageError(`${file}: ${(err as Error).message}`);
    }
    throw err;
  }
  out(formatClusterToken(config.cluster.id, relayToken(clusterSecretKey(config.cluster.secret))));
  return 0;
}

function optionalInt(
  text: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer in ${min}..${max}`);
  return n;
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
}
