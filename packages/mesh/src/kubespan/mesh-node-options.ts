/** The public shapes of a {@link MeshNode}: its options, its routing hook and what it reports. */

import type { TunDevice } from "@wirespan/tun";
import type { Bind } from "../bind/bind.js";
import type { Logger } from "../logger.js";
import type { PathView } from "../nat/path-state.js";
import type { MeshConfig } from "./config.js";
import type { BackoffOptions } from "./discovery-backoff.js";
import type { monotonicNow } from "./monotonic-clock.js";
import type { PeerState, PeerStatusTimings } from "./peer-status.js";

/** What routing the node needs from the OS (implemented in routing.ts; absent in no-root mode). */
export interface MeshRouting {
  /** Replaces the set of destinations forced into the mesh interface (§4.6 target set). */
  update(targets: readonly string[]): Promise<void>;
  /** Removes every rule, route and table it made. */
  close(): Promise<void>;
}

export interface MeshNodeOptions {
  readonly config: MeshConfig;
  /** Where node-identity.yaml and kubespan-identity.yaml live (created 0700). */
  readonly stateDir: string;
  /** The packet interface (already configured with the node address); required. */
  readonly tun: TunDevice;
  /** OS routing; omitted = none (in-process meshes, demo). */
  readonly routing?: MeshRouting | null;
  /** UDP bind for the Device (default a UdpBind on all addresses). */
  readonly bind?: Bind;
  /** Advertised endpoints given explicitly (`ip:port`), instead of the interfaces' addresses. */
  readonly endpoints?: readonly string[];
  /** Node (underlay) addresses published in the affiliate; default: this host's addresses. */
  readonly addresses?: readonly string[];
  /** Publish the discovery `client_ip` as an extra endpoint (§1.6). Default true. */
  readonly publishPublicIp?: boolean;
  /** MAC for the EUI-64 address (§3); default the first hardware MAC, null for key-derived. */
  readonly mac?: Uint8Array | null;
  /** Peer status timings (tests shorten them). */
  readonly timings?: Partial<PeerStatusTimings>;
  /** Persistent keepalive override in seconds (tests pair it with short timings); default 25. */
  readonly keepaliveSeconds?: number;
  /** Upper bound between two reconcile passes (Talos's 30 s tick, §4.2). */
  readonly reconcileIntervalMs?: number;
  /** Control socket for `wirespan get` (default `<stateDir>/wirespan.sock`; false = none). */
  readonly controlSocket?: string | false;
  /** Serve the UAPI socket for `wg show` (directory; default /var/run/wireguard; false = off). */
  readonly uapiDir?: string | false;
  readonly discoveryBackoff?: Partial<BackoffOptions>;
  readonly logger?: Logger;
  /**
   * Clock for the peer-status windows, ms; monotonic (default {@link monotonicNow}) so an NTP
   * step cannot mark peers down or keep them up.
   */
  readonly now?: () => number;
  /** Wall clock, ms since the epoch: what the Device's handshake times are in (Date.now). */
  readonly wallNow?: () => number;
}

/** A peer's status as reported to `wirespan get peerstatuses`. */
export interface PeerStatusView {
  readonly publicKey: string;
  readonly affiliateId: string;
  readonly label: string;
  readonly endpoint: string | null;
  readonly state: PeerState;
  readonly receiveBytes: bigint;
  readonly transmitBytes: bigint;
  /** ms on the node's clock ({@link monotonicNow}: epoch-based at start), null = never. */
  readonly lastHandshakeTime: number | null;
  readonly lastUsedEndpoint: string | null;
  readonly lastEndpointChange: number | null;
  /** NAT traversal's path (direct / relayed, via what, time on each); null when not managed. */
  readonly path: PathView | null;
}

/** An endpoint observed for a peer that is up (Talos `KubeSpanEndpoint`, §4.5). */
export interface ObservedEndpoint {
  readonly publicKey: string;
  readonly affiliateId: string;
  readonly endpoint: string;
}

export interface MeshNodeEvents {
  /** Peer status changed (state or endpoint), peers added or removed. */
  change: [];
  /** Peer specs changed (affiliates came, went or changed). */
  specs: [];
}
