/**
 * A SOCKS5 server (RFC 1928) with optional username/password (RFC 1929): CONNECT and UDP
 * ASSOCIATE to IPv4, IPv6 and domain names, names resolved by the transport (inside the tunnel).
 * BIND is answered "command not supported", as wireproxy and Tailscale do.
 *
 * Bounded per client: the handshake must complete within `handshakeTimeoutMs` (slowloris) and in
 * at most MAX_HANDSHAKE_BYTES (the longest legal handshake is 257 + 513 + 262 bytes); data then
 * flows through `join` with stream backpressure. Every refusal sends the protocol's reply when
 * there is one, is counted, and closes only that client.
 */
import { CredentialCheck, type Credentials } from "./credentials.js";
import { dial } from "./dial.js";
import {
  closeWith,
  type FrontEndOptions,
  limitsOf,
  type RunningFrontEnd,
  TrackedListener,
} from "./front-end.js";
import { join } from "./pipe.js";
import {
  Command,
  encodeReply,
  isMalformed,
  Method,
  NEED_MORE,
  parseGreeting,
  parseRequest,
  parseUserPass,
  Reply,
  replyForError,
  SOCKS_VERSION,
  type SocksRequest,
  USERPASS_VERSION,
} from "./socks5-codec.js";
import { UdpAssociation } from "./socks5-udp.js";
import type { StreamSocket } from "./transport.js";

/** Greeting (2 + 255) + RFC 1929 request (3 + 255 + 255) + request (6 + 256), rounded up. */
const MAX_HANDSHAKE_BYTES = 1100;

export interface Socks5Options extends FrontEndOptions {
  /** When set, clients must authenticate with RFC 1929 username/password. */
  readonly credentials?: Credentials;
}

const REASON_BY_REPLY: Record<number, string> = {
  [Reply.GeneralFailure]: "connect_failed",
  [Reply.NetworkUnreachable]: "network_unreachable",
  [Reply.HostUnreachable]: "host_unreachable",
  [Reply.ConnectionRefused]: "connection_refused",
};

type State = "greeting" | "auth" | "request" | "done";

export class Socks5Server implements RunningFrontEnd {
  readonly kind = "socks5" as const;
  private readonly listener: TrackedListener;
  private readonly auth: CredentialCheck | null;

  private constructor(private readonly opts: Socks5Options) {
    this.auth = opts.credentials ? new CredentialCheck(opts.credentials) : null;
    this.listener = new TrackedListener("socks5", opts, (s) => this.serve(s));
  }

  static async start(opts: Socks5Options): Promise<Socks5Server> {
    const s = new Socks5Server(opts);
    await s.listener.start();
    return s;
  }

  get address() {
    return this.listener.address;
  }

  get connections(): number {
    return this.listener.connections;
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  private refuse(client: StreamSocket, reason: string, reply?: Uint8Array): void {
    this.opts.stats.refuse("socks5", reason);
    closeWith(client, reply);
  }

  private serve(client: StreamSocket): void {
    const limits = limitsOf(this.opts);
    let state: State = "greeting";
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      if (state !== "done") {
        state = "done";
        this.opts.stats.refuse("socks5", "handshake_timeout");
        client.destroy();
      }
    }, limits.handshakeTimeoutMs);
    client.once("close", () => clearTimeout(timer));

    const finish = (reason: string, reply?: Uint8Array) => {
      state = "done";
      clearTimeout(timer);
      client.off("data", onData);
      this.refuse(client, reason, reply);
    };

    const step = (): void => {
      for (;;) {
        if (state === "greeting") {
          const g = parseGreeting(buf);
          if (g === NEED_MORE) return;
          if (isMalformed(g)) {
            finish(g.error);
            return;
          }
          buf = buf.subarray(g.length);
          const want = this.auth ? Method.UserPass : Method.NoAuth;
          if (!g.value.includes(want)) {
            finish("no_acceptable_method", Uint8Array.of(SOCKS_VERSION, Method.NoAcceptable));
            return;
          }
          client.write(Uint8Array.of(SOCKS_VERSION, want));
          state = this.auth ? "auth" : "request";
        } else if (state === "auth") {
          const a = parseUserPass(buf);
          if (a === NEED_MORE) return;
          if (isMalformed(a)) {
            finish(a.error, Uint8Array.of(USERPASS_VERSION, 1));
            return;
          }
          buf = buf.subarray(a.length);
          if (!this.auth?.matches(a.value.user, a.value.pass)) {
            finish("auth_failed", Uint8Array.of(USERPASS_VERSION, 1));
            return;
          }
          client.write(Uint8Array.of(USERPASS_VERSION, 0));
          state = "request";
        } else if (state === "request") {
          const r = parseRequest(buf);
          if (r === NEED_MORE) return;
          if (isMalformed(r)) {
            finish(r.error, r.reply === null ? undefined : encodeReply(r.reply));
            return;
          }
          const rest = buf.subarray(r.length);
          state = "done";
          clearTimeout(timer);
          client.off("data", onData);
          client.pause();
          this.dispatch(client, r.value, rest);
          return;
        } else {
          return;
        }
      }
    };

    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      step();
      // Checked after parsing: a client may send its first data with the request.
      if (state !== "done" && buf.length > MAX_HANDSHAKE_BYTES) finish("oversized_handshake");
    };
    client.on("data", onData);
    client.once("end", () => {
      if (state !== "done") finish("truncated_handshake");
    });
  }

  private dispatch(client: StreamSocket, req: SocksRequest, rest: Buffer): void {
    switch (req.command) {
      case Command.Connect: {
        this.connect(client, req, rest);
        return;
      }
      case Command.UdpAssociate: {
        this.associate(client, req);
        return;
      }
      default: {
        this.refuse(client, "command_not_supported", encodeReply(Reply.CommandNotSupported));
        return;
      }
    }
  }

  private connect(client: StreamSocket, req: SocksRequest, rest: Buffer): void {
    dial(this.opts.transport, req, client, limitsOf(this.opts).connectTimeoutMs, {
      failed: (err) => {
        const rep = replyForError(err.code);
        this.refuse(client, REASON_BY_REPLY[rep] ?? "connect_failed", encodeReply(rep));
      },
      connected: (upstream) => {
        upstream.setNoDelay?.(true);
        // BND.ADDR/BND.PORT: our end of the upstream connection (RFC 1928 §6).
        client.write(
          encodeReply(Reply.Succeeded, upstream.localAddress ?? "0.0.0.0", upstream.localPort ?? 0),
        );
        if (rest.length > 0) upstream.write(rest);
        void join(client, upstream, this.opts.stats);
      },
    });
  }

  private async associate(client: StreamSocket, req: SocksRequest): Promise<void> {
    const limits = limitsOf(this.opts);
    let assoc: UdpAssociation;
    try {
      assoc = await UdpAssociation.open({
        transport: this.opts.transport,
        relayHost: client.localAddress ?? this.opts.listen.host,
        clientHost: client.remoteAddress ?? "",
        clientPort: req.port,
        stats: this.opts.stats,
        limits,
      });
    } catch {
      this.refuse(client, "udp_bind_failed", encodeReply(Reply.GeneralFailure));
      return;
    }
    if (client.destroyed) {
      assoc.close();
      return;
    }
    // RFC 1928 §7: the association lives as long as the TCP connection that asked for it.
    client.once("close", () => assoc.close());
    client.on("data", () => {});
    client.once("end", () => client.destroy());
    client.write(encodeReply(Reply.Succeeded, assoc.address.host, assoc.address.port));
    client.resume();
  }
}
