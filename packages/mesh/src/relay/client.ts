/**
 * A node's connection to one relay (server.ts): a WebSocket over TLS (`wss://`; `ws://` for
 * tests and relays behind a TLS-terminating proxy) that passes proxies allowing only HTTPS. It
 * answers the relay's challenge with the node's key and cluster proofs (protocol.ts), then sends
 * and receives WireGuard datagrams addressed by public key. It reconnects with capped
 * exponential backoff until closed. Certificates are checked against the system roots plus
 * NODE_EXTRA_CA_CERTS.
 */
import { EventEmitter } from "node:events";
import { WebSocket } from "ws";
import { sendBatched } from "./batched-send.js";
import { PacketBatcher } from "./packet-batch.js";
import {
  clientProofs,
  decodeFrame,
  encodeFrame,
  FrameType,
  MaxBatchFrame,
  MaxRelayedPacket,
  RelayProtocolVersion,
} from "./protocol.js";

export interface RelayClientOptions {
  readonly url: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly clusterId: string;
  /** The cluster's relay token (protocol.ts relayToken). */
  readonly token: Uint8Array;
  /** Extra trusted CA certificates (PEM) for a `wss://` relay with a private certificate. */
  readonly tlsCa?: Buffer;
  readonly log?: (line: string) => void;
  /**
   * A WebSocket ping this often (default 25 s; 0 = none) keeps the connection from the relay's
   * idle timeout (server.ts, 90 s) and HTTP proxies' (often 60 s); a ping unanswered by the next
   * one (nothing received in between) ends the connection, which then reconnects.
   */
  readonly keepaliveMs?: number;
  /** Backoff bounds between connection attempts, ms (default 500 ms … 5 s). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface RelayClientEvents {
  /** Admitted (true) or disconnected (false). */
  state: [up: boolean];
  /** A datagram from the node whose public key (base64) is `from`. */
  packet: [from: string, data: Uint8Array];
  /** The relay says this destination is not connected to it. */
  peerGone: [key: Uint8Array];
  /** The relay refused admission (reason text). */
  refused: [reason: string];
}

/** Outgoing frames queued on the socket beyond this are dropped (datagram semantics). */
const MaxBufferedBytes = 4 << 20;
const DefaultKeepaliveMs = 25_000;

export class RelayClient extends EventEmitter<RelayClientEvents> {
  /** Datagrams dropped because the connection was down or backed up. */
  dropped = 0;
  sentPackets = 0;
  receivedPackets = 0;
  private ws: WebSocket | null = null;
  private admitted = false;
  private closed = false;
  private backoff: number;
  private retry: NodeJS.Timeout | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  /** Something arrived since the last keepalive ping. */
  private heard = true;
  private readonly batcher = new PacketBatcher((frame) => {
    const ws = this.ws;
    if (ws !== null && this.admitted) sendBatched(ws, frame);
  });

  constructor(private readonly options: RelayClientOptions) {
    super();
    this.backoff = options.minBackoffMs ?? 500;
  }

  get url(): string {
    return this.options.url;
  }

  /** True while admitted by the relay. */
  get up(): boolean {
    return this.admitted;
  }

  start(): void {
    if (this.closed || this.ws !== null) return;
    const { url } = this.options;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: MaxBatchFrame,
      ...(this.options.tlsCa ? { ca: this.options.tlsCa } : {}),
      // RFC 6455 §10.3: masking keeps script-chosen bytes from looking like HTTP to
      // intermediaries that read the stream. Inside TLS none can, so the all-zero key (which ws
      // takes as "skip the XOR pass") saves a pass over every byte on both ends; plain ws://
      // keeps random keys.
      ...(url.startsWith("wss:") ? { generateMask: (mask: Buffer) => mask.fill(0) } : {}),
    });
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    ws.on("open", () => {
      (ws as unknown as { _socket?: { setNoDelay?: (v: boolean) => void } })._socket?.setNoDelay?.(
        true,
      );
      this.startKeepalive(ws);
    });
    ws.on("pong", () => {
      this.heard = true;
    });
    ws.on("message", (raw, isBinary) => {
      this.heard = true;
      if (!isBinary || !(raw instanceof Uint8Array)) return;
      const frame = decodeFrame(raw);
      if (frame === null) return;
      switch (frame.type) {
        case FrameType.ServerHello: {
          if (frame.version !== RelayProtocolVersion) {
            this.options.log?.(`relay ${url}: unsupported version ${frame.version}`);
            ws.close();
            return;
          }
          const o = this.options;
          const proofs = clientProofs(o.privateKey, o.publicKey, o.token, o.clusterId, frame);
          if (proofs === null) {
            ws.close();
            return;
          }
          ws.send(
            encodeFrame({
              type: FrameType.ClientHello,
              clientKey: o.publicKey,
              clusterId: o.clusterId,
              ...proofs,
            }),
          );
          return;
        }
        case FrameType.Welcome:
          this.admitted = true;
          this.backoff = this.options.minBackoffMs ?? 500;
          this.options.log?.(`relay ${url}: connected`);
          this.emit("state", true);
          return;
        case FrameType.Refused:
          this.options.log?.(`relay ${url}: refused: ${frame.reason}`);
          // Not transient (wrong token, not our cluster): retry only at the slowest rate.
          this.backoff = this.options.maxBackoffMs ?? 5_000;
          this.emit("refused", frame.reason);
          return;
        case FrameType.Recv: {
          if (!this.admitted) return;
          this.receivedPackets += frame.packets.length;
          const from = Buffer.from(frame.key).toString("base64");
          for (const p of frame.packets) this.emit("packet", from, p);
          return;
        }
        case FrameType.PeerGone:
          this.emit("peerGone", frame.key);
          return;
        default:
          return;
      }
    });
    ws.on("error", (err) => this.options.log?.(`relay ${url}: ${err.message}`));
    ws.on("close", () => {
      this.stopKeepalive();
      this.ws = null;
      this.batcher.clear();
      const was = this.admitted;
      this.admitted = false;
      if (was) this.emit("state", false);
      if (this.closed) return;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 5_000);
      this.retry = setTimeout(() => {
        this.retry = null;
        this.start();
      }, delay);
    });
  }

  private startKeepalive(ws: WebSocket): void {
    const every = this.options.keepaliveMs ?? DefaultKeepaliveMs;
    if (every <= 0) return;
    this.heard = true;
    this.keepalive = setInterval(() => {
      if (!this.heard) {
        this.options.log?.(`relay ${this.options.url}: no answer to keepalive, reconnecting`);
        ws.terminate();
        return;
      }
      this.heard = false;
      ws.ping();
    }, every);
    this.keepalive.unref();
  }

  private stopKeepalive(): void {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
  }

  /**
   * Sends a datagram to the node whose public key (base64) is `to`, batched with the others sent
   * to it in this event-loop turn (packet-batch.ts); false (and counted) when it cannot.
   */
  send(to: string, data: Uint8Array): boolean {
    const ws = this.ws;
    if (
      !this.admitted ||
      ws === null ||
      ws.bufferedAmount > MaxBufferedBytes ||
      data.length === 0 ||
      data.length > MaxRelayedPacket
    ) {
      this.dropped++;
      return false;
    }
    this.batcher.add(to, data);
    this.sentPackets++;
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this.stopKeepalive();
    this.ws?.terminate();
    this.ws = null;
    this.admitted = false;
    this.batcher.clear();
  }
}
