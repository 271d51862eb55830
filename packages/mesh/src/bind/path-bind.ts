/**
 * The bind of a NAT-traversing node: wraps the UDP bind and adds the paths WireGuard itself does
 * not know (reference/nat-relay.md §2.3, §3, §4).
 *
 * - Receive: one UDP socket carries WireGuard, STUN answers and path probes. STUN (nat/stun.ts
 *   `isStun`) and probes (first bytes "\xF0WSP", nat/path-probe.ts) are taken out and handed to
 *   their handlers; everything else goes to the Device as before.
 * - Relay endpoints (relay/relay-endpoints.ts): a send to a 100::/64 endpoint becomes a relay
 *   frame to that peer's key; a datagram from a relay reaches the Device as coming from such an
 *   endpoint, so the engine answers and roams through the relay like through any address.
 * - Path choice: for peers the NAT controller manages, the bind knows which endpoints belong to
 *   which peer and which path is chosen for it (direct endpoint or relay). A send to any of the
 *   peer's endpoints goes out on the chosen path, so the engine's roaming between the peer's
 *   direct and relayed sources never moves traffic off the path the probes proved.
 */
import type { Endpoint } from "@wirespan/noise";
import { isProbe } from "../nat/path-probe.js";
import { isStun } from "../nat/stun.js";
import { RelayEndpoints } from "../relay/relay-endpoints.js";
import type { RelayPool } from "../relay/relay-pool.js";
import type { Bind, PreparedBind, ReceiveHandler } from "./bind.js";

/** The path chosen for a peer. */
export type ChosenPath =
  | { readonly kind: "direct"; readonly endpoint: Endpoint }
  | { readonly kind: "relay"; readonly url: string };

export interface PathBindStats {
  stun: number;
  probes: number;
  relayedIn: number;
  relayedOut: number;
  /** Sends to a relay endpoint with no relay to carry them. */
  relayDropped: number;
}

export class PathBind implements Bind {
  readonly relayEndpoints = new RelayEndpoints();
  readonly stats: PathBindStats = {
    stun: 0,
    probes: 0,
    relayedIn: 0,
    relayedOut: 0,
    relayDropped: 0,
  };
  private handler: ReceiveHandler = () => {};
  private stunHandler: ReceiveHandler = () => {};
  private probeHandler: ReceiveHandler = () => {};
  private relays: RelayPool | null = null;
  /** `ip:port` (or relay endpoint address) → peer key, for managed peers. */
  private owners = new Map<string, string>();
  private readonly chosen = new Map<string, ChosenPath>();

  constructor(readonly inner: Bind) {
    inner.onReceive((data, from) => {
      if (isStun(data)) {
        this.stats.stun++;
        this.stunHandler(data, from);
      } else if (isProbe(data)) {
        this.stats.probes++;
        this.probeHandler(data, from);
      } else {
        this.handler(data, from);
      }
    });
  }

  get port(): number {
    return this.inner.port;
  }

  get batched(): boolean | undefined {
    return this.inner.batched;
  }

  prepare(port: number): Promise<PreparedBind> {
    return this.inner.prepare(port);
  }

  open(port: number): Promise<number> {
    return this.inner.open(port);
  }

  setMark(mark: number): void {
    this.inner.setMark(mark);
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  onStun(handler: ReceiveHandler): void {
    this.stunHandler = handler;
  }

  onProbe(handler: ReceiveHandler): void {
    this.probeHandler = handler;
  }

  /** Connects the relays: their datagrams enter as from relay endpoints. */
  attachRelays(pool: RelayPool): void {
    this.relays = pool;
    pool.on("packet", (url, from, data) => {
      this.stats.relayedIn++;
      this.handler(data, this.relayEndpoints.endpointFor(url, from));
    });
  }

  /** Sends outside WireGuard (STUN, probes) straight to the socket. */
  sendRaw(to: Endpoint, data: Uint8Array): void {
    this.inner.send(to, data);
  }

  /**
   * Which endpoints belong to which managed peer (`ip:port` texts), and the path chosen for each
   * (absent: the engine's endpoint is used as is).
   */
  setPeers(
    peers: ReadonlyArray<{ key: string; endpoints: readonly string[]; path: ChosenPath | null }>,
  ): void {
    const owners = new Map<string, string>();
    const shared = new Set<string>();
    this.chosen.clear();
    for (const p of peers) {
      for (const e of p.endpoints) {
        // An address two peers advertise (the same LAN address at two sites) is nobody's.
        if (owners.has(e) && owners.get(e) !== p.key) shared.add(e);
        owners.set(e, p.key);
      }
      if (p.path) this.chosen.set(p.key, p.path);
    }
    for (const e of shared) owners.delete(e);
    this.owners = owners;
  }

  send(to: Endpoint, data: Uint8Array): void {
    const target = RelayEndpoints.isRelayEndpoint(to) ? this.relayEndpoints.lookup(to) : undefined;
    const key =
      target?.key ?? (this.owners.size > 0 ? this.owners.get(endpointText(to)) : undefined);
    const path = key === undefined ? undefined : this.chosen.get(key);
    if (path?.kind === "direct") {
      this.inner.send(path.endpoint, data);
    } else if (path?.kind === "relay" && key !== undefined) {
      this.sendRelay(path.url, key, data);
    } else if (target) {
      this.sendRelay(target.url, target.key, data);
    } else if (RelayEndpoints.isRelayEndpoint(to)) {
      this.stats.relayDropped++;
    } else {
      this.inner.send(to, data);
    }
  }

  private sendRelay(url: string, key: string, data: Uint8Array): void {
    if (this.relays?.send(url, key, data)) this.stats.relayedOut++;
    else this.stats.relayDropped++;
  }

  async close(): Promise<void> {
    this.relays?.close();
    await this.inner.close();
  }
}

/** Canonical `ip:port` text of an endpoint (the form specs and UAPI use). */
export function endpointText(e: Endpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
