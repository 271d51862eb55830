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

/*
 * wirespan extension: the active liveness probe (probe.ts, peer-status.ts). Talos declares a peer
 * down only 275 s after its last handshake; wirespan's target is 60 s for a killed peer, and a
 * live idle peer must never be declared down.
 *
 * Watching the receive counter alone cannot do that: WireGuard's persistent-keepalive timer is
 * reset by any authenticated packet sent OR received (whitepaper §6.5; kernel timers.c,
 * wireguard-go timers.go, our Engine alike), so in a quiet pair only one side sends keepalives.
 * That side hears nothing from its live peer except a handshake response every ~2 min
 * (REKEY_AFTER_TIME), and a receive-silence rule shorter than that declares the live peer down.
 *
 * So a silent peer is asked: after {@link ProbeAfterSilenceMs} without receiving anything the
 * controller sends it a data packet through the tunnel, which a live peer always answers (its
 * OS echoes it; else WireGuard's passive keepalive answers within KEEPALIVE_TIMEOUT = 10 s; else,
 * if it lost the session, our "no reply for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT = 15 s of sent
 * data" timer starts a handshake it answers). Only a probe unanswered for
 * {@link ProbeTimeoutMs} makes an `up` peer `down`.
 *
 * Killed peer: its last packet reached us at or before the kill, so we probe at most
 * ProbeAfterSilenceMs (+ one check interval) later and declare it down ProbeTimeoutMs after that:
 * ≤ 30 + 2 + 20 (+ 2) = 54 s < 60 s.
 */
/**
 * Silence (receive counter and handshake time unchanged) after which a peer is probed: one
 * persistent-keepalive interval plus 5 s, so the keepalive-receiving side of a quiet pair, which
 * hears from its peer every 25 s, never needs to probe.
 */
export const ProbeAfterSilenceMs = KubeSpanPeerKeepaliveSeconds * 1000 + 5_000;
/**
 * How long a probe may stay unanswered before the peer is down: longer than the slowest answer
 * of a live peer, the new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) + jitter
 * (≤ 1/3 s) + one round trip (whitepaper §6.2, §6.5), with slack for a loaded host.
 */
export const ProbeTimeoutMs = 20_000;
/**
 * While a probe is unanswered it is repeated this often, so one lost probe or answer is not
 * fatal; after {@link ProbeTimeoutMs} (peer down) only every {@link ProbeAfterSilenceMs}.
 */
export const ProbeRetryMs = 5_000;
/**
 * wirespan extension: longest gap between two status checks, so the receive counter is observed
 * finely enough for the probe rule (each observation is at most this late).
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
