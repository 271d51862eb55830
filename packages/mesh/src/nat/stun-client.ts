/**
 * Reflexive endpoint discovery (RFC 8489 §6.2.1, reference/nat-relay.md §2.2): Binding requests
 * to the configured STUN servers, sent from the WireGuard socket itself (the path bind hands the
 * answers back), so the mapping learned is the one peers must send to. Requests are retried
 * quickly at first (250 ms doubling, libwebrtc-like), then the mapping is refreshed every 20–26 s
 * ("just under 30 s", Tailscale, §3.2), which also holds it open. When two servers report
 * different ports the NAT maps per destination (symmetric, §1.1): no reflexive endpoint is
 * published then, since none would work for a peer.
 */
import { EventEmitter } from "node:events";
import type { Endpoint } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { decodeStun, encodeBindingRequest, StunBindingSuccess } from "./stun.js";

export interface StunClientEvents {
  /** The published reflexive endpoints changed (`ip:port` texts). */
  change: [endpoints: string[]];
}

const RetryStartMs = 250;
const Retries = 5;
const RefreshMinMs = 20_000;
const RefreshJitterMs = 6_000;

interface Server {
  readonly endpoint: Endpoint;
  txid: Uint8Array | null;
  mapped: string | null;
  timer: NodeJS.Timeout | null;
}

export class StunClient extends EventEmitter<StunClientEvents> {
  private readonly servers: Server[];
  private published: string[] = [];
  /** Whether the last answers disagreed (endpoint-dependent mapping). */
  symmetric = false;
  private closed = false;

  constructor(
    servers: readonly Endpoint[],
    private readonly send: (to: Endpoint, data: Uint8Array) => void,
  ) {
    super();
    this.servers = servers.map((endpoint) => ({ endpoint, txid: null, mapped: null, timer: null }));
  }

  get endpoints(): string[] {
    return this.published;
  }

  start(): void {
    for (const s of this.servers) this.query(s, 0);
  }

  /** Asks every server again now (the socket was rebound, or the network changed). */
  refresh(): void {
    for (const s of this.servers) {
      if (s.timer) clearTimeout(s.timer);
      this.query(s, 0);
    }
  }

  private query(s: Server, attempt: number): void {
    if (this.closed) return;
    if (attempt === 0) s.txid = nodeCrypto.randomBytes(12);
    if (s.txid) this.send(s.endpoint, encodeBindingRequest(s.txid));
    const wait =
      attempt < Retries
        ? RetryStartMs << attempt
        : RefreshMinMs + Math.floor(Math.random() * RefreshJitterMs);
    s.timer = setTimeout(() => {
      if (attempt >= Retries && s.txid !== null) {
        // No answer after all retries: the mapping through this server is unknown.
        s.mapped = null;
        this.update();
      }
      this.query(s, attempt < Retries && s.txid !== null ? attempt + 1 : 0);
    }, wait);
  }

  /** A STUN datagram from the socket (path bind demultiplexing). */
  handle(data: Uint8Array): void {
    const m = decodeStun(data);
    if (m === null || m.type !== StunBindingSuccess || m.mapped === null) return;
    const s = this.servers.find((x) => x.txid !== null && equal(x.txid, m.transactionId));
    if (!s) return;
    s.txid = null; // answered: the timer now waits for the refresh
    const { address, port, family } = m.mapped;
    s.mapped = family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(
      () => this.query(s, 0),
      RefreshMinMs + Math.floor(Math.random() * RefreshJitterMs),
    );
    this.update();
  }

  private update(): void {
    const answers = this.servers.map((s) => s.mapped).filter((m): m is string => m !== null);
    const distinct = [...new Set(answers)];
    // Same IP, different ports from different servers: endpoint-dependent mapping.
    const ips = new Set(distinct.map((e) => e.slice(0, e.lastIndexOf(":"))));
    this.symmetric = distinct.length > ips.size;
    const next = this.symmetric ? [] : distinct;
    if (next.join(",") === this.published.join(",")) return;
    this.published = next;
    this.emit("change", next);
  }

  close(): void {
    this.closed = true;
    for (const s of this.servers) if (s.timer) clearTimeout(s.timer);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
