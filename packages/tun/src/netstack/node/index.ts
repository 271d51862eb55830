/**
 * @wirespan/tun/netstack/node — the netstack for Node: a TunDevice that a Device runs WireGuard
 * over, with net/dgram-shaped sockets, ping and DNS inside the tunnel.
 *
 * @module @wirespan/tun/netstack/node
 */
export type { RemoteInfo } from "./dgram-socket.js";
export { NetstackDgramSocket } from "./dgram-socket.js";
export type { LookupAddress, LookupOptions } from "./dns.js";
export type { ErrnoError } from "./errors.js";
export type { NetstackTunOptions } from "./netstack-tun.js";
export { NetstackTun } from "./netstack-tun.js";
export type { PingOptions, PingResult } from "./ping.js";
export type { NetstackConnectOptions } from "./tcp-connect.js";
export type { NetstackServerOptions } from "./tcp-server.js";
export { NetstackServer } from "./tcp-server.js";
export type { NetstackSocketOptions } from "./tcp-socket.js";
export { NetstackSocket } from "./tcp-socket.js";
