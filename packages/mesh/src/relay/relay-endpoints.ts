/**
 * Relay endpoints: how a relayed path looks to the WireGuard engine. The engine sends to and
 * roams between Endpoints (ip:port); a relayed peer gets one in 100::/64 — RFC 6666's
 * discard-only prefix, so the address can never reach a real host — that names a (relay URL,
 * peer public key) pair. The bind (bind/path-bind.ts) turns sends to such an endpoint into relay
 * frames, and reports datagrams that came through a relay as coming from it, so replies and
 * roaming work unchanged. Slots are per process; they are not stable across restarts.
 */
import { type Endpoint, formatIp } from "@wirespan/noise";

export interface RelayTarget {
  readonly url: string;
  /** Peer public key, base64. */
  readonly key: string;
}

/** The port relay endpoints carry (any nonzero value would do; UAPI needs one). */
const RelayEndpointPort = 1;

export class RelayEndpoints {
  private readonly byAddress = new Map<string, RelayTarget>();
  private readonly byTarget = new Map<string, Endpoint>();
  private readonly relaySlots = new Map<string, number>();
  private nextPeerSlot = 1;

  /** True for any address in 100::/64, ours or not. */
  static isRelayEndpoint(e: Endpoint): boolean {
    return e.family === 6 && e.address.startsWith("100::");
  }

  /** The endpoint that stands for `key` reached through `url` (made on first use). */
  endpointFor(url: string, key: string): Endpoint {
    const id = `${url} ${key}`;
    const known = this.byTarget.get(id);
    if (known) return known;
    let relay = this.relaySlots.get(url);
    if (relay === undefined) {
      relay = this.relaySlots.size + 1;
      this.relaySlots.set(url, relay);
    }
    const slot = this.nextPeerSlot++;
    const ip = new Uint8Array(16);
    ip[0] = 0x01; // 100::
    ip[10] = relay >> 8;
    ip[11] = relay & 0xff;
    ip[12] = slot >>> 24;
    ip[13] = (slot >>> 16) & 0xff;
    ip[14] = (slot >>> 8) & 0xff;
    ip[15] = slot & 0xff;
    const e: Endpoint = { address: formatIp(ip), port: RelayEndpointPort, family: 6 };
    this.byTarget.set(id, e);
    this.byAddress.set(e.address, { url, key });
    return e;
  }

  /** What a relay endpoint stands for; undefined for one this table never made. */
  lookup(e: Endpoint): RelayTarget | undefined {
    return this.byAddress.get(e.address);
  }
}
