/**
 * The pairings the tunnel benchmark compares. Side a sends (iperf3 client), side b receives, so
 * the two mixed pairings measure wirespan as sender and as receiver separately.
 */
import type { Impl } from "./tunnel-pair.js";

export interface Pairing {
  /** Short id for flags: wg-wg, ws-ws, ws-wg, wg-ws. */
  readonly id: string;
  readonly label: string;
  readonly a: Impl;
  readonly b: Impl;
  /** Environment for the daemons (A/B comparisons of wirespan settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** Another checkout whose wirespan-wg to run (A/B comparisons of code). */
  readonly tree?: string;
  /** Extra node flags for wirespan-wg (A/B comparisons of runtime settings). */
  readonly nodeArgs?: readonly string[];
}

export const PAIRINGS: readonly Pairing[] = [
  { id: "wg-wg", label: "wireguard-go → wireguard-go", a: "wireguard-go", b: "wireguard-go" },
  { id: "ws-ws", label: "wirespan → wirespan", a: "wirespan", b: "wirespan" },
  { id: "ws-wg", label: "wirespan → wireguard-go", a: "wirespan", b: "wireguard-go" },
  { id: "wg-ws", label: "wireguard-go → wirespan", a: "wireguard-go", b: "wirespan" },
];

/** The baseline every ratio is taken against. */
export const BASELINE_ID = "wg-wg";

/** Pairings by comma-separated ids; throws on an unknown id. */
export function selectPairings(ids: string): Pairing[] {
  return ids.split(",").map((raw) => {
    const id = raw.trim();
    const p = PAIRINGS.find((x) => x.id === id);
    if (!p) {
      throw new Error(
        `unknown pairing "${id}" (choose from ${PAIRINGS.map((x) => x.id).join(", ")})`,
      );
    }
    return p;
  });
}

/**
 * For a before/after comparison in one run: every pairing that involves wirespan once more with
 * `env` set for the daemons (e.g. WIRESPAN_TUN_OFFLOAD=0), labelled with it.
 */
export function withVariants(pairings: Pairing[], env: Record<string, string> | null): Pairing[] {
  if (env === null) return pairings;
  const tag = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const out: Pairing[] = [];
  for (const p of pairings) {
    out.push(p);
    if (p.a === "wirespan" || p.b === "wirespan") {
      out.push({ ...p, id: `${p.id}+`, label: `${p.label} [${tag}]`, env });
    }
  }
  return out;
}

/**
 * For a before/after comparison of code in one run: every pairing that involves wirespan once
 * more with wirespan-wg taken from the checkout at `tree` (e.g. the commit before a change).
 */
export function withTree(pairings: Pairing[], tree: string | null): Pairing[] {
  if (tree === null) return pairings;
  const out: Pairing[] = [];
  for (const p of pairings) {
    out.push(p);
    if (p.a === "wirespan" || p.b === "wirespan") {
      out.push({ ...p, id: `${p.id}@`, label: `${p.label} [${tree}]`, tree });
    }
  }
  return out;
}

/**
 * For a before/after comparison of node flags in one run: every pairing that involves wirespan
 * once more with `args` given to node (e.g. a V8 flag), labelled with them.
 */
export function withNodeArgs(pairings: Pairing[], args: readonly string[] | null): Pairing[] {
  if (args === null || args.length === 0) return pairings;
  const out: Pairing[] = [];
  for (const p of pairings) {
    out.push(p);
    if (p.a === "wirespan" || p.b === "wirespan") {
      out.push({
        ...p,
        id: `${p.id}%`,
        label: `${p.label} [node ${args.join(" ")}]`,
        nodeArgs: args,
      });
    }
  }
  return out;
}
