/**
 * The UDP side of a Device, behind an interface so tests can swap it (wireguard-go's
 * `conn.Bind`, reference §2.2). Endpoints are plain data from @wirespan/noise.
 */
import type { Endpoint } from "@wirespan/noise";

/**
 * Called for every datagram received. `data` is lent for the duration of the call: a batched
 * bind reads the next batch into the same memory, so a handler that keeps bytes copies them
 * (the Engine decrypts into its own memory and copies the handshake fields it keeps).
 */
export type ReceiveHandler = (data: Uint8Array, from: Endpoint) => void;

/** Datagrams a bind could not simply send (counted, never thrown). */
export interface BindSendStats {
  /** Dropped for an error of their own: unreachable, EPERM from a firewall, a bad endpoint. */
  readonly errors: number;
  /** Dropped because the socket's send buffer stayed full while a bounded backlog was full too. */
  readonly bufferFull: number;
  /** Sent late: they waited for the full send buffer to drain (EAGAIN), none lost. */
  readonly deferred: number;
}

/** A socket bound but not yet in use: a listen-port change commits it or throws it away. */
export interface PreparedBind {
  readonly port: number;
  /** Makes the prepared socket the live one and closes the previous one. */
  commit(): void;
  /** Closes the prepared socket; the live one is untouched. */
  abort(): void;
  /**
   * Sets SO_MARK on the prepared socket only (0 removes it); `commit` makes it the bind's mark
   * for later sockets too. Throws a `BindError` and changes nothing on failure.
   */
  setMark(mark: number): void;
}

export interface Bind {
  /** The port actually bound (after a request for 0, the one the kernel picked); 0 when closed. */
  readonly port: number;
  /**
   * Binds a new socket on `port` (0 = any) without touching the live one, so a failing
   * `listen_port` change leaves everything as it was. Rejects with a `BindError`.
   */
  prepare(port: number): Promise<PreparedBind>;
  /** prepare + commit. */
  open(port: number): Promise<number>;
  /** Sets SO_MARK on the live socket (and on every later one); 0 removes it. Throws on failure. */
  setMark(mark: number): void;
  send(to: Endpoint, data: Uint8Array): void;
  /** Counters of sends that failed, waited or were dropped (binds that keep them). */
  sendStats?(): BindSendStats;
  onReceive(handler: ReceiveHandler): void;
  /**
   * Binds that sort what they receive (BatchUdpBind's classifier) call this after a batch in
   * which they shed handshake messages for lack of room: the device is under load (issue #11).
   */
  onOverload?(handler: () => void): void;
  /**
   * True when everything the kernel had queued is handed to the receive handler within one
   * callback (recvmmsg): the Device then writes the decrypted batch to the TUN right after it,
   * in a microtask, instead of a loop turn later (lower latency, same batching).
   */
  readonly batched?: boolean;
  close(): Promise<void>;
}

/**
 * A bind failure. `code` is the errno name (`EADDRINUSE`, `EACCES`, …; `ENOSYS` where a socket
 * option needs the native addon): stable, and what the UAPI answer is derived from.
 */
export class BindError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "BindError";
  }
}
