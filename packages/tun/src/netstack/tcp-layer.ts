/**
 * The seam between the IP layer (stack.ts) and the TCP state machine (tcp/): what NetStack calls
 * on TCP and what TCP calls back. Addresses are fresh copies; segments are views valid during
 * the call only.
 */
import type { IpAddress } from "./address.js";
import type { SocketError } from "./icmp.js";

export interface TcpLayer {
  /** A segment (TCP header + payload) whose IP and TCP checksums were verified. */
  input(src: IpAddress, dst: IpAddress, segment: Uint8Array, now: number): void;
  /** An ICMP error quoting a segment we sent from `local` to `remote`; `quoted` ≥ 8 bytes of its TCP header. */
  icmpError(
    local: IpAddress,
    remote: IpAddress,
    quoted: Uint8Array,
    error: SocketError,
    now: number,
  ): void;
  tick(now: number): void;
  /** Earliest time `tick` has work, or null. */
  nextDeadline(): number | null;
}

/** What TCP gets from the stack. */
export interface TcpIo {
  /** Sends a segment (checksum field 0 — the stack fills it) from `src` to `dst`. */
  output(src: IpAddress, dst: IpAddress, segment: Uint8Array): void;
  /** The link MTU (TCP derives its MSS from it: MTU − 40 / − 60). */
  mtu: number;
  /** Local addresses, for choosing a source and validating binds. */
  addresses: readonly IpAddress[];
  random: () => number;
}

export type TcpFactory = (io: TcpIo) => TcpLayer;
