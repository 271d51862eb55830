#!/usr/bin/env node
/**
 * `wirespan`: the mesh CLI. Subcommands: `up`, `get`, `gen config`, `discovery serve`.
 * Bad usage exits 2 with a message; a runtime failure exits 1.
 */

import { UsageError } from "./args.js";

// Subcommands are imported when run: `wirespan proxy` then does not load the discovery service,
// gRPC or the mesh controller, which keeps an idle proxy's memory down (bench/RESULTS.md).

export async function usage(): Promise<string> {
  const [{ UP_USAGE }, { PROXY_USAGE }, { GET_USAGE }, { GEN_CONFIG_USAGE }, { RELAY_USAGE }] =
    await Promise.all([
      import("./up.js"),
      import("./proxy.js"),
      import("./get.js"),
      import("./gen-config.js"),
      import("./relay.js"),
    ]);
  return `wirespan — a KubeSpan-style WireGuard mesh in userspace

usage: wirespan COMMAND [options]

commands:
  up --config FILE          run a mesh node (root: TUN, routes, nftables)
  proxy -c FILE             WireGuard without root: SOCKS5/HTTP proxy and port forwards
  get RESOURCE              show a running node's identities, peerspecs, peerstatuses, endpoints
  gen config                print a new configuration (fresh cluster ID and secret)
  discovery serve           run the discovery service
  relay serve               run a relay for nodes behind NAT (relay token: a cluster's admission token)
  help                      this text; \`wirespan COMMAND --help\` for a command's options

${UP_USAGE}

${PROXY_USAGE}

${GET_USAGE}

${GEN_CONFIG_USAGE}

${RELAY_USAGE}

usage: wirespan discovery serve --help   (options of the discovery service)`;
}

const write = (text: string) => process.stdout.write(text);

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      write(`${await usage()}\n`);
      return command === undefined ? 2 : 0;
    case "up":
      return (await import("./up.js")).up(rest);
    case "proxy":
      return (await import("./proxy.js")).proxy(rest);
    case "get":
      return (await import("./get.js")).get(rest, write);
    case "gen":
      if (rest[0] !== "config") throw new UsageError("expected `wirespan gen config`");
      return (await import("./gen-config.js")).genConfig(rest.slice(1), write);
    case "discovery":
      if (rest[0] !== "serve") throw new UsageError("expected `wirespan discovery serve`");
      await (await import("./discovery-serve.js")).discoveryServe(rest.slice(1));
      return 0;
    case "relay":
      return (await import("./relay.js")).relay(rest);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    if (err instanceof UsageError) {
      process.stderr.write(`wirespan: ${err.message}\n(see wirespan --help)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`wirespan: ${err.message}\n`);
      process.exitCode = 1;
    }
  },
);
