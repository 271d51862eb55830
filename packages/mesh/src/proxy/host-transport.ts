/**
 * The host side of a proxy: the operating system's own sockets. Local listeners (the SOCKS5 and
 * HTTP ports, client tunnels) and the targets of server tunnels live here.
 */
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { createConnection, createServer, isIP } from "node:net";
import type {
  DatagramFamily,
  DatagramSocket,
  StreamServer,
  StreamSocket,
  Transport,
} from "./transport.js";

export const hostTransport: Transport = {
  name: "host",
  connect(opts: { host: string; port: number }): StreamSocket {
    return createConnection({ host: opts.host, port: opts.port, allowHalfOpen: true });
  },
  async lookup(name: string): Promise<string> {
    if (isIP(name)) return name;
    return (await lookup(name)).address;
  },
  createServer(handler: (socket: StreamSocket) => void): StreamServer {
    return createServer({ allowHalfOpen: true }, handler);
  },
  createSocket(family: DatagramFamily): DatagramSocket {
    return createSocket(family);
  },
};
