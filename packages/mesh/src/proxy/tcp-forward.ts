/**
 * A TCP port forward: every connection accepted on one side is joined to a new connection to a
 * fixed target on the other. A client tunnel listens on the host and dials into the tunnel
 * (wireproxy's TCPClientTunnel, onetun); a server tunnel listens on our tunnel address and dials
 * a local service (TCPServerTunnel, Tailscale's inbound forwarding). Same code, sides swapped.
 */
import { dial } from "./dial.js";
import {
  type FrontEndOptions,
  limitsOf,
  type RunningFrontEnd,
  TrackedListener,
} from "./front-end.js";
import { join, reset } from "./pipe.js";
import type { StreamSocket } from "./transport.js";

export interface TcpForwardOptions extends FrontEndOptions {
  readonly kind: "tcp_client" | "tcp_server";
  readonly target: { readonly host: string; readonly port: number };
}

export class TcpForward implements RunningFrontEnd {
  readonly kind: "tcp_client" | "tcp_server";
  private readonly listener: TrackedListener;

  private constructor(private readonly opts: TcpForwardOptions) {
    this.kind = opts.kind;
    this.listener = new TrackedListener(opts.kind, opts, (s) => this.serve(s));
  }

  static async start(opts: TcpForwardOptions): Promise<TcpForward> {
    const f = new TcpForward(opts);
    await f.listener.start();
    return f;
  }

  get address() {
    return this.listener.address;
  }

  /** Client connections open now. */
  get connections(): number {
    return this.listener.connections;
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  private serve(client: StreamSocket): void {
    // Nothing is read from the client until the target answers: its bytes wait in its window.
    client.pause();
    dial(this.opts.transport, this.opts.target, client, limitsOf(this.opts).connectTimeoutMs, {
      failed: () => {
        this.opts.stats.refuse(this.kind, "connect_failed");
        // A refused or unreachable target shows as a reset, as a kernel forward (DNAT) would.
        reset(client);
      },
      connected: (upstream) => {
        upstream.setNoDelay?.(true);
        client.setNoDelay?.(true);
        void join(client, upstream, this.opts.stats);
      },
    });
  }
}
