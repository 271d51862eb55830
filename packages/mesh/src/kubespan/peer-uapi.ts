/**
 * The WireGuard side of KubeSpan peer management (reference/kubespan.md §4.2): turning peer specs
 * and endpoint decisions into one UAPI `set=1` request (reference/wireguard.md §1.4), the only
 * way the controller configures the Device, and reading the Device's peers back as
 * {@link PeerSnapshot}s keyed by base64 public key.
 */
import {
  type Endpoint,
  type PeerSnapshot as EnginePeer,
  type PeerActivity,
  parseIp,
} from "@wirespan/noise";
import { formatIpPort } from "./ip-port.js";
import type { DeviceView } from "./peer-reconciler.js";
import type { PeerSnapshot } from "./peer-status.js";

const hex = (b64: string) => Buffer.from(b64, "base64").toString("hex");

/** What the controller last wrote to the Device for one peer. */
export interface ConfiguredPeer {
  readonly allowedIPs: string;
  readonly keepalive: number;
}

/** One peer's part of a set request. */
export interface PeerChange {
  readonly publicKey: string;
  /** Remove the peer from the device. */
  readonly remove?: boolean;
  /** Full replacement of the allowed IPs (only when they changed). */
  readonly allowedIPs?: readonly string[];
  readonly endpoint?: string;
  readonly persistentKeepalive?: number;
  /** Base64 PSK (the cluster secret, §4.6); sent with the peer's first configuration. */
  readonly presharedKey?: string;
}

/** Canonical `ip:port` of a device endpoint (IPv6 in brackets). */
export function endpointText(e: Endpoint | null): string | null {
  return e === null ? null : formatIpPort(parseIp(e.address), e.port);
}

/** One Device peer's activity as the peer-status code wants it. */
function activitySnapshot(a: PeerActivity): PeerSnapshot {
  return {
    endpoint: endpointText(a.endpoint),
    lastHandshakeNs: a.lastHandshakeNs,
    rxBytes: a.rxBytes,
    txBytes: a.txBytes,
  };
}

/** The Device's peers as the peer-status code wants them, keyed by base64 public key. */
export function devicePeers(peers: readonly EnginePeer[]): Map<string, PeerSnapshot> {
  const out = new Map<string, PeerSnapshot>();
  for (const p of peers) out.set(Buffer.from(p.publicKey).toString("base64"), activitySnapshot(p));
  return out;
}

/**
 * The Device as a reconcile pass reads it: one peer at a time (no allowed IPs or keys copied),
 * every peer's key only on a sweep.
 */
export function deviceView(device: {
  peerActivity(publicKey: string): PeerActivity | null;
  peers(): readonly EnginePeer[];
}): DeviceView {
  return {
    activity: (key) => {
      const a = device.peerActivity(key);
      return a === null ? null : activitySnapshot(a);
    },
    keys: () => device.peers().map((p) => Buffer.from(p.publicKey).toString("base64")),
  };
}

/**
 * A UAPI set body for the changes (`set=1` framing is added by the caller or the Device).
 * Empty string when there is nothing to change. Keys are hex on the wire (wireguard.md §1.4).
 */
export function formatPeerChanges(changes: readonly PeerChange[]): string {
  const lines: string[] = [];
  for (const c of changes) {
    lines.push(`public_key=${hex(c.publicKey)}`);
    if (c.remove) {
      lines.push("remove=true");
      continue;
    }
    if (c.presharedKey !== undefined) lines.push(`preshared_key=${hex(c.presharedKey)}`);
    if (c.endpoint !== undefined) lines.push(`endpoint=${c.endpoint}`);
    if (c.persistentKeepalive !== undefined) {
      lines.push(`persistent_keepalive_interval=${c.persistentKeepalive}`);
    }
    if (c.allowedIPs !== undefined) {
      lines.push("replace_allowed_ips=true");
      for (const ip of c.allowedIPs) lines.push(`allowed_ip=${ip}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
