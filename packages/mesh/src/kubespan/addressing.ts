/**
 * KubeSpan addressing (reference/kubespan.md §3): the cluster's ULA /64 derived from the cluster
 * ID, and the node's address inside it (modified EUI-64 of the first hardware MAC).
 */
import { createHash } from "node:crypto";
import { networkInterfaces } from "node:os";
import { type Cidr, makeCidr } from "@wirespan/noise";
import { ULAPurpose } from "./constants.js";

/**
 * Talos's `ULAPrefix(clusterID, purpose)` (§3): SHA-256 of the cluster ID *string*, its last
 * 16 bytes, byte 0 := 0xfd (RFC 4193 §3.1), byte 7 := purpose, masked to /64.
 */
export function ulaPrefix(clusterId: string, purpose: number = ULAPurpose.kubeSpan): Cidr {
  const hash = createHash("sha256").update(clusterId, "utf8").digest();
  const bytes = new Uint8Array(hash.subarray(hash.length - 16));
  bytes[0] = 0xfd;
  bytes[7] = purpose & 0xff;
  return makeCidr(bytes, 64);
}

/** Talos's `IsULA(ip, purpose)` (§3): byte 0 is 0xfd and byte 7 the purpose. */
export function isUla(address: Uint8Array, purpose: number): boolean {
  return address.length === 16 && address[0] === 0xfd && address[7] === purpose;
}

/** Parses `aa:bb:cc:dd:ee:ff` (or `-` separated) into 6 bytes; throws on anything else. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`invalid MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

/**
 * Node address from a 48-bit MAC: modified EUI-64 (RFC 4291 appendix A: insert ff:fe in the
 * middle, invert the universal/local bit) as the interface ID inside the /64 `subnet` (§3).
 */
export function nodeAddressFromMac(subnet: Cidr, mac: Uint8Array): Uint8Array {
  if (mac.length !== 6) throw new Error(`MAC address must be 6 bytes, got ${mac.length}`);
  const iid = Uint8Array.of(mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]);
  return withInterfaceId(subnet, iid);
}

/**
 * wirespan extension for hosts without a hardware MAC (containers without ethernet, TUN-only
 * hosts): the interface ID is the first 8 bytes of SHA-256(public key) with the universal/local
 * bit cleared, i.e. a locally scoped ID in RFC 4291 appendix A terms. Stable as long as the key
 * is, and peers accept any address in the /64 (§3).
 */
export function nodeAddressFromPublicKey(subnet: Cidr, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new Error("public key must be 32 bytes");
  const iid = new Uint8Array(createHash("sha256").update(publicKey).digest().subarray(0, 8));
  iid[0] &= ~0x02;
  return withInterfaceId(subnet, iid);
}

function withInterfaceId(subnet: Cidr, iid: Uint8Array): Uint8Array {
  if (subnet.family !== 6 || subnet.bits !== 64)
    throw new Error("KubeSpan subnet must be an IPv6 /64");
  const out = new Uint8Array(16);
  out.set(subnet.bytes.subarray(0, 8), 0);
  out.set(iid, 8);
  return out;
}

/**
 * The first hardware MAC of this host (§3 "first hardware MAC"): interfaces sorted by name,
 * skipping loopback, all-zero MACs and the names in `exclude` (the mesh interface itself).
 * Null when the host has none.
 */
export function firstHardwareMac(
  exclude: readonly string[] = [],
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): Uint8Array | null {
  for (const name of Object.keys(interfaces).sort()) {
    if (exclude.includes(name)) continue;
    for (const info of interfaces[name] ?? []) {
      if (info.internal || !info.mac || info.mac === "00:00:00:00:00:00") continue;
      try {
        return parseMac(info.mac);
      } catch {
        // Not a 48-bit MAC (e.g. InfiniBand): not usable for EUI-64.
      }
    }
  }
  return null;
}
