/**
 * `wirespan get` resources: the mesh state as Talos-style resources (identities, peer specs,
 * peer statuses, endpoints; Talos `KubeSpan*` resource types, reference/kubespan.md §3, §4),
 * printed as a table (the `talosctl get` columns), JSON (an array of `{ id, spec }`) or YAML.
 * The private key appears only with `showSecrets`.
 */
import { stringify as stringifyYaml } from "yaml";
import type { PathView } from "../nat/path-state.js";
import type { KubeSpanIdentity } from "./identity.js";
import type { PeerSpec } from "./peer-spec.js";
import type { PeerStatus } from "./peer-status.js";

export type ResourceKind = "identities" | "peerspecs" | "peerstatuses" | "endpoints";
export type OutputFormat = "table" | "json" | "yaml";

export const ResourceKinds: readonly ResourceKind[] = [
  "identities",
  "peerspecs",
  "peerstatuses",
  "endpoints",
];

export interface ResourceRow {
  readonly id: string;
  /** Resource version (bumped by the owner on every change); 1 when not tracked. */
  readonly version?: number;
  readonly spec: Record<string, unknown>;
}

/** What the controller knows; resources are views of it. */
export interface MeshStateView {
  readonly identity: KubeSpanIdentity | null;
  readonly peerSpecs: readonly PeerSpec[];
  /** Keyed by peer public key. */
  readonly peerStatuses: ReadonlyMap<string, PeerStatus>;
  /** NAT traversal's path per managed peer (nat/path-state.ts); absent for Talos peers. */
  readonly paths?: ReadonlyMap<string, PathView>;
  /** The clock the path times are measured against, ms since the epoch. */
  readonly now?: number;
}

/** Go's zero time.Time in RFC 3339, which Talos prints for "never". */
const ZeroTime = "0001-01-01T00:00:00Z";

function time(ms: number | null): string {
  return ms === null ? ZeroTime : new Date(ms).toISOString();
}

function count(n: bigint): number | string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/**
 * Endpoints observed for peers (Talos `KubeSpanEndpoints`, §4.5): every `up` peer with an
 * endpoint, mapped back to its affiliate. Also the input of endpoint harvesting.
 */
export function observedEndpoints(
  view: MeshStateView,
): { publicKey: string; affiliateId: string; endpoint: string }[] {
  const out = [];
  for (const spec of view.peerSpecs) {
    const status = view.peerStatuses.get(spec.publicKey);
    // A relay endpoint (100::/64) is local bookkeeping, never an endpoint for others.
    if (status?.state === "up" && status.endpoint && !status.endpoint.startsWith("[100::")) {
      out.push({
        publicKey: spec.publicKey,
        affiliateId: spec.affiliateId,
        endpoint: status.endpoint,
      });
    }
  }
  return out;
}

/**
 * Path fields of a peer status (wirespan extension, issue #12): `direct` / `relayed` / `none`,
 * through which endpoint or relay, since when, and the time spent on each kind of path.
 */
function pathFields(p: PathView | undefined, now: number): Record<string, unknown> {
  if (!p) return {};
  return {
    path: p.path,
    pathVia: p.via ?? "",
    pathSince: time(p.since),
    pathSeconds: p.since === null ? 0 : Math.round((now - p.since) / 1000),
    directSeconds: Math.round(p.directMs / 1000),
    relayedSeconds: Math.round(p.relayedMs / 1000),
    ...(p.rttMs === null ? {} : { rttMs: p.rttMs }),
  };
}

/** `direct:12s`, `relayed:30s@wss://relay…`, or `-` for a peer without NAT traversal. */
function pathCell(s: Record<string, unknown>): string {
  if (typeof s.path !== "string") return "-";
  const via = s.path === "relayed" ? `@${s.pathVia}` : "";
  return `${s.path}:${s.pathSeconds}s${via}`;
}

/** Rows of one resource kind, sorted by ID. */
export function resourceRows(
  kind: ResourceKind,
  view: MeshStateView,
  options: { showSecrets?: boolean } = {},
): ResourceRow[] {
  let rows: ResourceRow[];
  switch (kind) {
    case "identities": {
      const id = view.identity;
      rows = id
        ? [
            {
              id: "local",
              spec: {
                address: id.address,
                subnet: id.subnet,
                ...(options.showSecrets ? { privateKey: id.privateKey } : {}),
                publicKey: id.publicKey,
              },
            },
          ]
        : [];
      break;
    }
    case "peerspecs":
      rows = view.peerSpecs.map((p) => ({
        id: p.publicKey,
        spec: {
          address: p.address,
          allowedIPs: [...p.allowedIPs],
          endpoints: [...p.endpoints],
          label: p.label,
        },
      }));
      break;
    case "peerstatuses":
      rows = [...view.peerStatuses].map(([publicKey, s]) => ({
        id: publicKey,
        spec: {
          endpoint: s.endpoint ?? "",
          label: s.label,
          state: s.state,
          receiveBytes: count(s.receiveBytes),
          transmitBytes: count(s.transmitBytes),
          lastHandshakeTime: time(s.lastHandshakeTime),
          lastUsedEndpoint: s.lastUsedEndpoint ?? "",
          lastEndpointChange: time(s.lastEndpointChange),
          ...pathFields(view.paths?.get(publicKey), view.now ?? Date.now()),
        },
      }));
      break;
    case "endpoints":
      rows = observedEndpoints(view).map((e) => ({
        id: e.publicKey,
        spec: { affiliateID: e.affiliateId, endpoint: e.endpoint },
      }));
      break;
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Talos resource type names and their print columns (`talosctl get`). */
const TableLayout: Record<
  ResourceKind,
  { type: string; columns: [string, (spec: Record<string, unknown>) => unknown][] }
> = {
  identities: {
    type: "KubeSpanIdentity",
    columns: [
      ["ADDRESS", (s) => s.address],
      ["PUBLICKEY", (s) => s.publicKey],
    ],
  },
  peerspecs: {
    type: "KubeSpanPeerSpec",
    columns: [
      ["LABEL", (s) => s.label],
      ["ENDPOINTS", (s) => (s.endpoints as string[]).join(",")],
    ],
  },
  peerstatuses: {
    type: "KubeSpanPeerStatus",
    columns: [
      ["LABEL", (s) => s.label],
      ["ENDPOINT", (s) => s.endpoint],
      ["STATE", (s) => s.state],
      ["RX", (s) => s.receiveBytes],
      ["TX", (s) => s.transmitBytes],
      ["PATH", (s) => pathCell(s)],
    ],
  },
  endpoints: {
    type: "KubeSpanEndpoint",
    columns: [
      ["ENDPOINT", (s) => s.endpoint],
      ["AFFILIATE ID", (s) => s.affiliateID],
    ],
  },
};

/** Renders rows as `talosctl get` would: table, JSON array of `{ id, spec }`, or YAML. */
export function formatResources(
  kind: ResourceKind,
  rows: readonly ResourceRow[],
  format: OutputFormat,
): string {
  if (format === "json") {
    return `${JSON.stringify(
      rows.map((r) => ({ id: r.id, spec: r.spec })),
      null,
      2,
    )}\n`;
  }
  if (format === "yaml") {
    return rows.map((r) => stringifyYaml({ id: r.id, spec: r.spec })).join("---\n");
  }
  const layout = TableLayout[kind];
  const header = ["NAMESPACE", "TYPE", "ID", "VERSION", ...layout.columns.map(([name]) => name)];
  const body = rows.map((r) => [
    "kubespan",
    layout.type,
    r.id,
    String(r.version ?? 1),
    ...layout.columns.map(([, get]) => {
      const v = get(r.spec);
      return v === undefined || v === null || v === "" ? "" : String(v);
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("   ")
      .trimEnd();
  return `${[header, ...body].map(line).join("\n")}\n`;
}
