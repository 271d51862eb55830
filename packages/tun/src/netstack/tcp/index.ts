/** The TCP layer of the netstack: portable (no `node:` imports, no timers, no clock reads). */
export { TcpLayer } from "./tcp-layer.js";
export * from "./types.js";
