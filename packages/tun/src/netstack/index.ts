/**
 * @wirespan/tun/netstack — a TCP/IP stack in TypeScript: the portable sans-IO core. The Node
 * adapter (net/dgram-shaped sockets, a TunDevice for the Device) is `@wirespan/tun/netstack/node`.
 *
 * @module @wirespan/tun/netstack
 */
export type { IpAddress } from "./address.js";
export { formatIp, ipEquals, parseIp } from "./address.js";
export { adjust, checksum, pseudoHeaderSum, sum } from "./checksum.js";
export type { DropCounters, DropReason, NetStackCounters } from "./counters.js";
export { DROP_REASONS } from "./counters.js";
export { NetstackError } from "./errors.js";
export type { IcmpErrno, SocketError } from "./icmp.js";
export type { EchoReplyHandler } from "./icmp-handler.js";
export type { NetStackOptions, TcpTuning } from "./stack.js";
export { DEFAULT_NETSTACK_MTU, NetStack } from "./stack.js";
export type {
  TcpConnection,
  TcpConnectionEvents,
  TcpError,
  TcpErrorCode,
  TcpListener,
  TcpState,
} from "./tcp/index.js";
export { TcpLayer } from "./tcp/index.js";
export type { UdpSocket, UdpSocketHandlers } from "./udp.js";
