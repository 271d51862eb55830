/**
 * The tunnel side of a proxy: the userspace TCP/IP stack (`@wirespan/tun/netstack/node`
 * NetstackTun) seen as a Transport. Its `connect`/`createServer`/`createSocket` already have the
 * shapes of `net`/`dgram`; this only fixes half-open mode (the proxy forwards each FIN itself)
 * and picks the first address a lookup gives.
 */
import type {
  DatagramFamily,
  DatagramSocket,
  StreamServer,
  StreamSocket,
  Transport,
} from "./transport.js";

/** What the front-ends use of a netstack (NetstackTun has it). */
export interface TunnelStack {
  connect(opts: { host: string; port: number; allowHalfOpen?: boolean }): StreamSocket;
  createServer(
    opts: { allowHalfOpen?: boolean },
    handler: (socket: StreamSocket) => void,
  ): StreamServer;
  createSocket(type: DatagramFamily): DatagramSocket;
  lookup(name: string): Promise<ReadonlyArray<{ readonly address: string }>>;
}

export function stackTransport(stack: TunnelStack): Transport {
  return {
    name: "tunnel",
    connect: (opts) => stack.connect({ host: opts.host, port: opts.port, allowHalfOpen: true }),
    async lookup(name: string): Promise<string> {
      const all = await stack.lookup(name);
      if (all.length === 0) {
        throw Object.assign(new Error(`no address for ${name}`), { code: "ENOTFOUND" });
      }
      return all[0].address;
    },
    createServer: (handler: (socket: StreamSocket) => void) =>
      stack.createServer({ allowHalfOpen: true }, handler),
    createSocket: (family) => stack.createSocket(family),
  };
}
