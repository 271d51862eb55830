/**
 * Node and KubeSpan identities persisted in the state directory (reference/kubespan.md §2.1,
 * §3): `node-identity.yaml` holds the node ID, `kubespan-identity.yaml` the WireGuard key pair
 * (plus the derived address and subnet, recomputed on every start). Both are created once,
 * exclusively and mode 0600, and reused afterwards.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatCidr, makeCidr } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { nodeAddressFromMac, nodeAddressFromPublicKey, ulaPrefix } from "./addressing.js";
import { base62Encode } from "./base62.js";
import {
  KubeSpanIdentityFile,
  NodeIdentityFile,
  NodeIdentitySize,
  ULAPurpose,
} from "./constants.js";

/** The KubeSpan identity, with Talos's YAML field names (§3). */
export interface KubeSpanIdentity {
  /** Node address as a /128 prefix, e.g. `fd7f:175a:b97c:5602:2c1a:b6ff:fe53:8169/128`. */
  readonly address: string;
  /** The cluster's KubeSpan /64, e.g. `fd7f:175a:b97c:5602::/64`. */
  readonly subnet: string;
  /** WireGuard private key, base64. Never logged or printed unless asked for. */
  readonly privateKey: string;
  /** WireGuard public key, base64. */
  readonly publicKey: string;
}

/** The node identity (Talos `IdentitySpec`, YAML key `nodeId`, §2.1). */
export interface NodeIdentity {
  readonly nodeId: string;
}

/** Generates a WireGuard private key: 32 random bytes clamped per RFC 7748 §5. */
export function generatePrivateKey(): Uint8Array {
  const k = nodeCrypto.randomBytes(32);
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  return k;
}

/** Decodes a base64 WireGuard key, throwing a clear error unless it is 32 bytes. */
export function decodeKey(text: string, what: string): Uint8Array {
  const bytes = typeof text === "string" ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (bytes.length !== 32 || bytes.toString("base64") !== text) {
    throw new Error(`${what} must be base64 of 32 bytes`);
  }
  return new Uint8Array(bytes);
}

/**
 * Address and subnet for a key pair (§3): the ULA /64 of the cluster, the interface ID from the
 * MAC (modified EUI-64) or, without one, from the public key.
 */
export function deriveKubeSpanAddress(
  clusterId: string,
  mac: Uint8Array | null,
  publicKey: Uint8Array,
): { address: string; subnet: string } {
  const subnet = ulaPrefix(clusterId, ULAPurpose.kubeSpan);
  const address =
    mac === null ? nodeAddressFromPublicKey(subnet, publicKey) : nodeAddressFromMac(subnet, mac);
  return { address: formatCidr(makeCidr(address, 128)), subnet: formatCidr(subnet) };
}

/** The node address without the /128, as IP text. */
export function identityAddressIp(identity: KubeSpanIdentity): string {
  return identity.address.replace(/\/128$/, "");
}

function readYaml(path: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    // The library's message says where in the text, not which file: a user needs both.
    throw new Error(`${path}: invalid YAML: ${e instanceof Error ? e.message : e}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error(`${path}: expected a YAML mapping`);
  }
  return doc as Record<string, unknown>;
}

/** Creates `path` exclusively with mode 0600; fails if it already exists. */
function createExclusive(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600, flag: "wx" });
}

/** Loads `node-identity.yaml` from `stateDir`, creating it with a fresh random node ID once. */
export function loadOrCreateNodeIdentity(stateDir: string): NodeIdentity {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, NodeIdentityFile);
  const existing = readYaml(path);
  if (existing !== null) {
    const nodeId = existing.nodeId;
    if (typeof nodeId !== "string" || nodeId.length === 0 || nodeId.length > 256) {
      throw new Error(`${path}: nodeId must be a non-empty string`);
    }
    return { nodeId };
  }
  const identity: NodeIdentity = { nodeId: base62Encode(nodeCrypto.randomBytes(NodeIdentitySize)) };
  createExclusive(path, stringifyYaml(identity));
  return identity;
}

/**
 * Loads `kubespan-identity.yaml` from `stateDir` (creating a key pair once), and derives the
 * address and subnet for `clusterId` and `mac` (the first hardware MAC, or null). The file is
 * rewritten (atomically, 0600) only when the derived address or subnet changed.
 */
export function loadOrCreateKubeSpanIdentity(
  stateDir: string,
  clusterId: string,
  mac: Uint8Array | null,
): KubeSpanIdentity {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, KubeSpanIdentityFile);
  const existing = readYaml(path);
  if (existing === null) {
    const privateKey = generatePrivateKey();
    const publicKey = nodeCrypto.x25519PublicKey(privateKey);
    const identity: KubeSpanIdentity = {
      ...deriveKubeSpanAddress(clusterId, mac, publicKey),
      privateKey: Buffer.from(privateKey).toString("base64"),
      publicKey: Buffer.from(publicKey).toString("base64"),
    };
    createExclusive(path, stringifyYaml(identity));
    return identity;
  }
  const privateKey = decodeKey(existing.privateKey as string, `${path}: privateKey`);
  const publicKey = nodeCrypto.x25519PublicKey(privateKey);
  const publicText = Buffer.from(publicKey).toString("base64");
  if (existing.publicKey !== undefined && existing.publicKey !== publicText) {
    throw new Error(`${path}: publicKey does not match privateKey`);
  }
  const identity: KubeSpanIdentity = {
    ...deriveKubeSpanAddress(clusterId, mac, publicKey),
    privateKey: existing.privateKey as string,
    publicKey: publicText,
  };
  if (
    identity.address !== existing.address ||
    identity.subnet !== existing.subnet ||
    existing.publicKey === undefined
  ) {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, stringifyYaml(identity), { mode: 0o600 });
    renameSync(tmp, path);
  }
  return identity;
}

/** The public half of an identity as printed by `wirespan get identities` (no private key). */
export function publicIdentity(identity: KubeSpanIdentity): Omit<KubeSpanIdentity, "privateKey"> {
  return { address: identity.address, subnet: identity.subnet, publicKey: identity.publicKey };
}
