/**
 * KubeSpan constants. Values are Talos's (reference/kubespan.md §3, §4.4, §4.6, §1.7) unless
 * marked as a wirespan extension.
 */

/** Default WireGuard listen port of KubeSpan (`KubeSpanDefaultPort`, §4.3, §4.6). */
export const KubeSpanDefaultPort = 51820;
/** Default link MTU (§4.6). */
export const KubeSpanDefaultMtu = 1420;
/** Default interface name (§4.6). */
export const KubeSpanDefaultInterface = "kubespan";
/** Persistent keepalive set on every KubeSpan peer, seconds (§4.2, §4.6). */
export const KubeSpanPeerKeepaliveSeconds = 25;

/** Time a freshly set endpoint gets to produce a handshake (`EndpointConnectionTimeout`, §4.4). */
export const EndpointConnectionTimeoutMs = 15_000;
/**
 * A peer is down when it had no handshake for this long (`PeerDownInterval`, §4.4): 180 s
 * handshake timeout + 5 s rekey timeout + 90 s rekey-attempt time (whitepaper §6.1, §6.4).
 */
export const PeerDownIntervalMs = 275_000;
/** Talos reconciles peers every 30 s (`DefaultPeerReconcileInterval`, §4.2). */
export const DefaultPeerReconcileIntervalMs = 30_000;

/**
 * wirespan extension: a peer that sent nothing for two keepalive intervals plus 5 s of slack
 * (a single lost keepalive is tolerated) is declared down, long before Talos's 275 s. Every
 * KubeSpan peer runs a 25 s persistent keepalive, so a live peer is never silent this long.
 */
export const RxSilenceTimeoutMs = 2 * KubeSpanPeerKeepaliveSeconds * 1000 + 5_000;
/**
 * wirespan extension: longest gap between two status checks, so the receive counter is observed
 * finely enough for {@link RxSilenceTimeoutMs} (detection ≤ silence + this).
 */
export const MaxPeerCheckIntervalMs = 2_000;

/** TTL Talos gives its affiliate on the discovery service (`defaultDiscoveryTTL`, §1.7). */
export const DiscoveryTtlMs = 30 * 60_000;

/** ULA purpose bytes (byte 7 of the prefix, §3). */
export const ULAPurpose = {
  bootstrap: 0x01,
  kubeSpan: 0x02,
  sideroLink: 0x03,
  virtualSideroLink: 0x04,
} as const;

/** State file names in the state directory (§2.1, §3). */
export const KubeSpanIdentityFile = "kubespan-identity.yaml";
export const NodeIdentityFile = "node-identity.yaml";
/** Node IDs are base62 of this many random bytes (§2.1). */
export const NodeIdentitySize = 32;
