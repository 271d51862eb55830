/**
 * A node's relay connections (reference/nat-relay.md §4.1, DERP's "home region"): the configured
 * relays are tried in order and the first one that admits the node is its home, announced to the
 * peers; every relay stays connected (reconnecting with backoff), so a node can move home when
 * its home fails, and reach a peer whose home is another relay on that relay's connection. No
 * relay shares state with another: a node sends to its peer's home relay. A connection to a relay
 * that is not configured here (a peer's home) is closed after {@link RelayPoolOptions.idleCloseMs}
 * without a datagram sent through it, and opened again by the next send.
 */
import { EventEmitter } from "node:events";
import { RelayClient, type RelayClientOptions } from "./client.js";

export interface RelayPoolEvents {
  /** A datagram from `from` (base64 key) received through the relay at `url`. */
  packet: [url: string, from: string, data: Uint8Array];
  /** The home relay changed. */
  home: [url: string | null];
}

export type RelayIdentity = Omit<RelayClientOptions, "url">;

export interface RelayPoolOptions {
  /** A peer's home relay unused this long is disconnected (default 5 min). */
  readonly idleCloseMs?: number;
}

const DefaultIdleCloseMs = 5 * 60_000;

export class RelayPool extends EventEmitter<RelayPoolEvents> {
  private readonly clients = new Map<string, RelayClient>();
  /** performance.now() of the last send through each relay that is not configured here. */
  private readonly lastSend = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;
  private readonly configured: ReadonlySet<string>;
  private currentHome: string | null = null;

  constructor(
    private readonly urls: readonly string[],
    private readonly identity: RelayIdentity,
    options: RelayPoolOptions = {},
  ) {
    super();
    this.configured = new Set(urls);
    for (const url of urls) this.client(url);
    const idle = options.idleCloseMs ?? DefaultIdleCloseMs;
    this.sweep = setInterval(() => this.closeIdle(idle), Math.max(10, idle / 4));
    this.sweep.unref();
  }

  /** The first configured relay that admits this node (the last one while none does). */
  get home(): string | null {
    return this.currentHome;
  }

  /** True when `url` is connected and admitted. */
  isUp(url: string): boolean {
    return this.clients.get(url)?.up ?? false;
  }

  /** Sends through the relay at `url` (connecting to it first if it is a peer's home). */
  send(url: string, to: string, data: Uint8Array): boolean {
    if (!this.configured.has(url)) this.lastSend.set(url, performance.now());
    return this.client(url).send(to, data);
  }

  private closeIdle(idleMs: number): void {
    const now = performance.now();
    for (const [url, at] of this.lastSend) {
      if (now - at <= idleMs) continue;
      this.lastSend.delete(url);
      this.clients.get(url)?.close();
      this.clients.delete(url);
    }
  }

  /** Relay client statistics, for `wirespan get`. */
  stats(): Array<{ url: string; up: boolean; sent: number; received: number; dropped: number }> {
    return [...this.clients.values()].map((c) => ({
      url: c.url,
      up: c.up,
      sent: c.sentPackets,
      received: c.receivedPackets,
      dropped: c.dropped,
    }));
  }

  private client(url: string): RelayClient {
    let c = this.clients.get(url);
    if (c) return c;
    c = new RelayClient({ ...this.identity, url });
    this.clients.set(url, c);
    c.on("packet", (from, data) => this.emit("packet", url, from, data));
    c.on("state", () => this.updateHome());
    c.start();
    return c;
  }

  private updateHome(): void {
    // While no relay is reachable the last home stays announced: the node reconnects there, and
    // its peers keep their relayed path instead of falling back and coming back (no churn).
    const home = this.urls.find((u) => this.clients.get(u)?.up) ?? this.currentHome;
    if (home === this.currentHome) return;
    this.currentHome = home;
    this.emit("home", home);
  }

  close(): void {
    clearInterval(this.sweep);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
