/**
 * A UDP port forward, the datagram twin of tcp-forward.ts: a socket on the listening side, and
 * per source address a session socket on the other side that sends to the fixed target and
 * carries the answers back (like a NAT mapping). Sessions end after `udpIdleMs` without traffic;
 * at most `maxUdpSessions` exist, the least recently used one giving way to a new source.
 */
import { isIPv6 } from "node:net";
import {
  type BindAddress,
  type FrontEndOptions,
  limitsOf,
  type RunningFrontEnd,
} from "./front-end.js";
import { hostTransport } from "./host-transport.js";
import { bindSocket, type DatagramSocket } from "./transport.js";

export interface UdpForwardOptions extends FrontEndOptions {
  readonly kind: "udp_client" | "udp_server";
  readonly target: { readonly host: string; readonly port: number };
}

interface Session {
  readonly socket: DatagramSocket;
  lastUsed: number;
  release: () => void;
}

export class UdpForward implements RunningFrontEnd {
  readonly kind: "udp_client" | "udp_server";
  address: BindAddress;
  /** Insertion order = least recently used first (a used session is re-inserted). */
  private readonly sessions = new Map<string, Session>();
  private listener: DatagramSocket | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private targetIp: Promise<string>;

  private constructor(private readonly opts: UdpForwardOptions) {
    this.kind = opts.kind;
    this.address = opts.listen;
    this.targetIp = opts.transport.lookup(opts.target.host);
    this.targetIp.catch(() => {});
  }

  static async start(opts: UdpForwardOptions): Promise<UdpForward> {
    const f = new UdpForward(opts);
    const on = opts.listenOn ?? hostTransport;
    const sock = on.createSocket(isIPv6(opts.listen.host) ? "udp6" : "udp4");
    sock.on("error", () => {});
    await bindSocket(sock, opts.listen.host, opts.listen.port);
    f.listener = sock;
    f.address = { host: opts.listen.host, port: sock.address().port };
    sock.on("message", (msg, rinfo) => void f.fromSource(msg, rinfo.address, rinfo.port));
    const idle = limitsOf(opts).udpIdleMs;
    if (idle > 0) {
      f.sweeper = setInterval(() => f.sweep(idle), Math.min(idle, 5_000));
      f.sweeper.unref();
    }
    return f;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const key of [...this.sessions.keys()]) this.end(key);
    this.listener?.close();
    this.listener = null;
  }

  private end(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    s.socket.close();
    s.release();
  }

  private sweep(idle: number): void {
    const cutoff = Date.now() - idle;
    for (const [key, s] of this.sessions) if (s.lastUsed < cutoff) this.end(key);
  }

  private async fromSource(msg: Buffer, address: string, port: number): Promise<void> {
    let ip: string;
    try {
      ip = await this.targetIp;
    } catch {
      this.opts.stats.refuse(this.kind, "resolve_failed");
      this.targetIp = this.opts.transport.lookup(this.opts.target.host);
      this.targetIp.catch(() => {});
      return;
    }
    const listener = this.listener;
    if (!listener) return;
    const key = `${address}|${port}`;
    let s = this.sessions.get(key);
    if (s) {
      this.sessions.delete(key);
      this.sessions.set(key, s);
    } else {
      if (this.sessions.size >= limitsOf(this.opts).maxUdpSessions) {
        this.opts.stats.refuse(this.kind, "session_evicted");
        this.end(this.sessions.keys().next().value as string);
      }
      const socket = this.opts.transport.createSocket(isIPv6(ip) ? "udp6" : "udp4");
      socket.on("error", () => {});
      const session: Session = {
        socket,
        lastUsed: Date.now(),
        release: this.opts.stats.open(this.kind),
      };
      s = session;
      this.sessions.set(key, session);
      socket.on("message", (reply) => {
        session.lastUsed = Date.now();
        this.opts.stats.bytesDown += reply.length;
        this.listener?.send(reply, port, address, this.countSendError);
      });
      try {
        await bindSocket(socket, "", 0);
      } catch {
        this.opts.stats.refuse(this.kind, "bind_failed");
        this.end(key);
        return;
      }
    }
    s.lastUsed = Date.now();
    this.opts.stats.bytesUp += msg.length;
    s.socket.send(msg, this.opts.target.port, ip, this.countSendError);
  }

  /**
   * A datagram that cannot be sent (EMSGSIZE: larger than an IPv6 tunnel path's MTU; ENOBUFS…)
   * is dropped, as the kernel would, and counted.
   */
  private readonly countSendError = (err: Error | null): void => {
    if (err) this.opts.stats.refuse(this.kind, "send_failed");
  };
}
