/**
 * The relay (`wirespan relay serve`, also embedded in `wirespan discovery serve --relay`): an
 * HTTP(S) server whose WebSocket upgrade at {@link RelayPath} carries protocol.ts frames. It
 * forwards WireGuard datagrams between the nodes connected to it by public key, like DERP
 * (reference/nat-relay.md §4.1): it sees only ciphertext, keeps no state shared with other relays
 * (a node sends to its peer's home relay), and admits only nodes that prove their key and their
 * cluster (protocol.ts). A node's sending is limited by a token bucket; a destination whose socket
 * is backed up drops datagrams (UDP semantics) instead of growing memory. GET /metrics answers
 * Prometheus text.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { type WebSocket, WebSocketServer } from "ws";
import { formatHostPort } from "../discovery/listen-address.js";
import { StunServer } from "../nat/stun-server.js";
import { sendBatched } from "./batched-send.js";
import {
  BatchHeaderLength,
  decodeFrame,
  encodeFrame,
  FrameType,
  MaxBatchFrame,
  RelayPath,
  RelayProtocolVersion,
  verifyClientHello,
} from "./protocol.js";
import { newRelayStats, type RelayStats, renderRelayMetrics } from "./relay-metrics.js";

export interface RelayServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM certificate and key: serve HTTPS (wss). Without: plain HTTP (tests, behind a proxy). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Cluster ID → relay token (protocol.ts relayToken): the clusters this relay serves. */
  readonly clusters: ReadonlyMap<string, Uint8Array>;
  /** Per-node send rate, bytes per second (default 125 MB/s = 1 Gbit/s). */
  readonly rateBytesPerSecond?: number;
  /** Token-bucket depth, bytes (default 4 MiB). */
  readonly burstBytes?: number;
  /**
   * An admitted connection that sends nothing (no frame, ping or pong) for this long is closed
   * (default 90 s; nodes ping every 25 s, client.ts): dead and abandoned connections do not
   * hold a slot forever. 0 turns it off.
   */
  readonly idleTimeoutMs?: number;
  /** Also answer STUN Binding requests on this UDP port of `host` (0 = any; undefined = off). */
  readonly stunPort?: number;
  readonly log?: (line: string) => void;
}

/** A destination socket with more than this queued drops further datagrams. */
const MaxBufferedBytes = 4 << 20;
/** A connection must finish admission within this long. */
const HelloTimeoutMs = 10_000;
const DefaultRate = 125_000_000;
const DefaultBurst = 4 << 20;
export const DefaultIdleTimeoutMs = 90_000;

interface Client {
  readonly ws: WebSocket;
  /** Public key, base64 (the map key) and bytes. */
  readonly key: string;
  readonly keyBytes: Uint8Array;
  tokens: number;
  at: number;
  /** performance.now() of the last thing received from it. */
  seen: number;
}

export class RelayServer {
  readonly stats: RelayStats = newRelayStats();
  private readonly clients = new Map<string, Client>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MaxBatchFrame,
    perMessageDeflate: false,
  });
  private readonly rate: number;
  private readonly burst: number;
  private readonly idleSweep: NodeJS.Timeout | null = null;

  private constructor(
    private readonly options: RelayServerOptions,
    private readonly http: Server,
    readonly stun: StunServer | null,
  ) {
    this.rate = options.rateBytesPerSecond ?? DefaultRate;
    this.burst = options.burstBytes ?? DefaultBurst;
    const idle = options.idleTimeoutMs ?? DefaultIdleTimeoutMs;
    if (idle > 0) {
      this.idleSweep = setInterval(() => this.closeIdle(idle), Math.max(10, idle / 4));
      this.idleSweep.unref();
    }
    http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url !== RelayPath) {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
    http.on("request", (req, res) => {
      if (req.method === "GET" && req.url === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(renderRelayMetrics(this.stats, this.clients.size, this.stun?.stats));
        return;
      }
      res.writeHead(404).end();
    });
  }

  static async start(options: RelayServerOptions): Promise<RelayServer> {
    const http = options.tls
      ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
      : createHttpServer();
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(options.port, options.host, () => {
        http.off("error", reject);
        resolve();
      });
    });
    let stun: StunServer | null = null;
    try {
      if (options.stunPort !== undefined)
        stun = await StunServer.listen(options.host, options.stunPort);
    } catch (err) {
      http.close();
      throw err;
    }
    return new RelayServer(options, http, stun);
  }

  /** `host:port` of the HTTP(S) listener. */
  get address(): string {
    const a = this.http.address() as AddressInfo;
    return formatHostPort(this.options.host, a.port);
  }

  /** The URL nodes put in their config for this relay. */
  get url(): string {
    return `${this.options.tls ? "wss" : "ws"}://${this.address}${RelayPath}`;
  }

  /** Connected, admitted nodes. */
  get connected(): number {
    return this.clients.size;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const log = this.options.log ?? (() => {});
    (req.socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    const priv = nodeCrypto.randomBytes(32);
    const hello = {
      serverKey: nodeCrypto.x25519PublicKey(priv),
      challenge: nodeCrypto.randomBytes(32),
    };
    ws.send(encodeFrame({ type: FrameType.ServerHello, version: RelayProtocolVersion, ...hello }));
    let client: Client | null = null;
    const timer = setTimeout(() => this.refuse(ws, "timeout"), HelloTimeoutMs);
    ws.on("error", () => {});
    ws.on("close", () => {
      clearTimeout(timer);
      if (client && this.clients.get(client.key) === client) this.clients.delete(client.key);
    });
    const alive = () => {
      if (client !== null) client.seen = performance.now();
    };
    ws.on("ping", alive);
    ws.on("pong", alive);
    ws.on("message", (raw, isBinary) => {
      alive();
      const data = isBinary ? toBytes(raw) : null;
      const frame = data ? decodeFrame(data) : null;
      if (frame === null) {
        this.stats.dropped.malformed++;
        return;
      }
      if (client === null) {
        if (frame.type !== FrameType.ClientHello) {
          this.refuse(ws, "expected ClientHello");
          return;
        }
        clearTimeout(timer);
        const failed = verifyClientHello(priv, hello, frame, (id) => this.options.clusters.get(id));
        if (failed !== null) {
          this.refuse(ws, failed === "cluster" ? "cluster not served" : "key proof failed");
          log(`relay: refused ${req.socket.remoteAddress}: ${failed}`);
          return;
        }
        const key = Buffer.from(frame.clientKey).toString("base64");
        client = {
          ws,
          key,
          keyBytes: new Uint8Array(frame.clientKey),
          tokens: this.burst,
          at: performance.now(),
          seen: performance.now(),
        };
        const old = this.clients.get(key);
        this.clients.set(key, client);
        old?.ws.close(1000, "replaced by a newer connection");
        this.stats.admitted++;
        ws.send(encodeFrame({ type: FrameType.Welcome, rateBytesPerSecond: this.rate }));
        return;
      }
      if (frame.type !== FrameType.Send) {
        this.stats.dropped.malformed++;
        return;
      }
      this.forward(client, frame.key, frame.packets, data as Uint8Array);
    });
  }

  /**
   * Forwards a Send frame (`data`, already checked by decodeFrame) as one Recv frame: the same
   * batch with the source's key written over the destination's, without a copy. The rate limit passes the leading
   * datagrams the node's tokens cover; limits and drops count datagrams.
   */
  private forward(
    from: Client,
    key: Uint8Array,
    packets: readonly Uint8Array[],
    data: Uint8Array,
  ): void {
    const now = performance.now();
    from.tokens = Math.min(this.burst, from.tokens + ((now - from.at) * this.rate) / 1000);
    from.at = now;
    // The datagrams the node's tokens cover, in order: a prefix of the batch (and of `data`).
    let count = 0;
    let bytes = 0;
    let end = BatchHeaderLength;
    for (const p of packets) {
      if (bytes + p.length > from.tokens) break;
      count++;
      bytes += p.length;
      end += 2 + p.length;
    }
    this.stats.dropped.rateLimited += packets.length - count;
    if (count === 0) return;
    from.tokens -= bytes;
    const to = this.clients.get(Buffer.from(key).toString("base64"));
    if (!to) {
      this.stats.dropped.noPeer += count;
      from.ws.send(encodeFrame({ type: FrameType.PeerGone, key }));
      return;
    }
    if (to.ws.bufferedAmount > MaxBufferedBytes) {
      this.stats.dropped.backlog += count;
      return;
    }
    // In place: `data` is this message's own memory (ws hands each message its own bytes).
    data[0] = FrameType.Recv;
    data.set(from.keyBytes, 1);
    sendBatched(to.ws, data.subarray(0, end));
    this.stats.packets += count;
    this.stats.frames++;
    this.stats.bytes += bytes;
  }

  /** Closes admitted connections silent for `idleMs` (RelayServerOptions.idleTimeoutMs). */
  private closeIdle(idleMs: number): void {
    const now = performance.now();
    for (const c of this.clients.values()) {
      if (now - c.seen <= idleMs) continue;
      this.clients.delete(c.key);
      this.stats.closedIdle++;
      c.ws.terminate();
    }
  }

  private refuse(ws: WebSocket, reason: string): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
    ws.send(encodeFrame({ type: FrameType.Refused, reason }), () => ws.close(1008, reason));
  }

  async close(): Promise<void> {
    if (this.idleSweep !== null) clearInterval(this.idleSweep);
    for (const c of this.clients.values()) c.ws.terminate();
    this.clients.clear();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections?.();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.stun?.close();
  }
}

function toBytes(raw: unknown): Uint8Array | null {
  if (raw instanceof Uint8Array) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw as Buffer[]);
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
  return null;
}
