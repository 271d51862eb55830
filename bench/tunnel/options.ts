/**
 * Benchmark options from flags and environment (flags win):
 *
 *   --quick            BENCH_QUICK=1       2 rounds × 3 s, short UDP/ping, no soak
 *   --rounds N         BENCH_ROUNDS        rounds of every pairing (default 3)
 *   --seconds N        BENCH_SECONDS       TCP seconds per run (default 10)
 *   --udp-seconds N    BENCH_UDP_SECONDS   UDP seconds per run (default 5)
 *   --pings N          BENCH_PINGS         pings per run (default 20)
 *   --soak N           BENCH_SOAK          wirespan↔wirespan RSS soak seconds (default 60, 0 = off)
 *   --pairings LIST    BENCH_PAIRINGS      e.g. wg-wg,ws-ws (default all four)
 *   --no-micro / --no-tunnel / --no-flood  skip a part
 *   --discovery-load   BENCH_DISCOVERY_LOAD=1  also the discovery service under 10,000 nodes (~4 min)
 *   --mesh-sim         BENCH_MESH_SIM=1        also the 200-node in-process mesh (a few min)
 *   --no-append        BENCH_NO_APPEND=1   do not append to bench/RESULTS.md
 *   --note TEXT        BENCH_NOTE          a line recorded with the results
 *   --ab K=V[,K=V]     BENCH_AB            also run every wirespan pairing with these daemon
 *                                          environment variables (before/after in one run)
 *   --ab-tree DIR      BENCH_AB_TREE       also run every wirespan pairing with the wirespan-wg
 *                                          of the checkout DIR (e.g. the commit before a change)
 *   WIRESPAN_NODE_ARGS                     extra node flags for wirespan-wg (e.g. --cpu-prof)
 */
import { PAIRINGS, type Pairing, selectPairings, withTree, withVariants } from "./pairings.js";

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  seconds: number;
  udpSeconds: number;
  pings: number;
  soakSeconds: number;
  pairings: Pairing[];
  micro: boolean;
  tunnel: boolean;
  flood: boolean;
  /** Opt-in (minutes long): the discovery service under 10,000 nodes (bench/discovery/). */
  discoveryLoad: boolean;
  /** Opt-in (minutes long): the 200-node in-process mesh simulation (bench/mesh-sim.ts). */
  meshSim: boolean;
  append: boolean;
  note: string;
  nodeArgs: string[];
}

function positive(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}`);
  return n;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"`);
    const [k, inline] = arg.slice(2).split("=", 2);
    if (
      [
        "quick",
        "no-micro",
        "no-tunnel",
        "no-flood",
        "no-append",
        "discovery-load",
        "mesh-sim",
      ].includes(k)
    ) {
      flags.set(k, "1");
    } else if (
      [
        "rounds",
        "seconds",
        "udp-seconds",
        "pings",
        "soak",
        "pairings",
        "note",
        "ab",
        "ab-tree",
      ].includes(k)
    ) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
      flags.set(k, v);
    } else {
      throw new Error(`unknown flag --${k}`);
    }
  }
  const get = (flag: string, envName: string) => flags.get(flag) ?? env[envName];
  const quick = get("quick", "BENCH_QUICK") === "1";
  const abRaw = get("ab", "BENCH_AB");
  let ab: Record<string, string> | null = null;
  if (abRaw) {
    ab = {};
    for (const kv of abRaw.split(",")) {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new Error(`--ab expects NAME=VALUE pairs, got "${kv}"`);
      ab[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
    }
  }
  return {
    quick,
    rounds: positive("rounds", get("rounds", "BENCH_ROUNDS")) ?? (quick ? 2 : 3),
    seconds: positive("seconds", get("seconds", "BENCH_SECONDS")) ?? (quick ? 3 : 10),
    udpSeconds: positive("udp-seconds", get("udp-seconds", "BENCH_UDP_SECONDS")) ?? (quick ? 2 : 5),
    pings: positive("pings", get("pings", "BENCH_PINGS")) ?? (quick ? 10 : 20),
    soakSeconds: positive("soak", get("soak", "BENCH_SOAK"), 0) ?? (quick ? 0 : 60),
    pairings: withTree(
      withVariants(
        selectPairings(get("pairings", "BENCH_PAIRINGS") ?? PAIRINGS.map((p) => p.id).join(",")),
        ab,
      ),
      get("ab-tree", "BENCH_AB_TREE") ?? null,
    ),
    micro: !flags.has("no-micro"),
    tunnel: !flags.has("no-tunnel"),
    flood: !flags.has("no-flood"),
    discoveryLoad: flags.has("discovery-load") || env.BENCH_DISCOVERY_LOAD === "1",
    meshSim: flags.has("mesh-sim") || env.BENCH_MESH_SIM === "1",
    append: !flags.has("no-append") && env.BENCH_NO_APPEND !== "1",
    note: get("note", "BENCH_NOTE") ?? "",
    nodeArgs: (env.WIRESPAN_NODE_ARGS ?? "").split(/\s+/).filter(Boolean),
  };
}
