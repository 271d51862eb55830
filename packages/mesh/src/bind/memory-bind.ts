/**
 * The in-memory twin of the UDP bind (wireguard-go's `bindtest`, reference §2.2): binds on one
 * MemoryNetwork exchange datagrams by address and port without sockets, so Devices can talk in
 * a unit test, and tests can drop, inspect or reorder what crosses the "wire".
 *
 * Delivery is asynchronous (setImmediate), as a real network is: a send never re-enters the
 * receiver while the sender is still in its handler.
 */
import type { Endpoint } from "@wirespan/noise";
import { type Bind, BindError, type PreparedBind, type ReceiveHandler } from "./bind.js";

/** Decides the fate of one datagram: true delivers it, false drops it. */
export type MemoryFilter = (from: Endpoint, to: Endpoint, data: Uint8Array) => boolean;

const key = (address: string, port: number) => `${address}|${port}`;

export class MemoryNetwork {
  private readonly ports = new Map<string, MemoryBind>();
  private nextEphemeral = 0;
  /** Datagrams delivered and dropped (by a filter or for want of a listener). */
  delivered = 0;
  dropped = 0;
  /** Optional hook on every datagram; return false to drop it. */
  filter: MemoryFilter | null = null;

  /** A new bind whose datagrams come from `address` (family taken from its syntax). */
  bind(address: string): MemoryBind {
    return new MemoryBind(this, address, address.includes(":") ? 6 : 4);
  }

  /** @internal */
  claim(b: MemoryBind, port: number): number {
    let p = port;
    if (p === 0) {
      // Ephemeral ports 40000..65535, round robin, skipping those in use.
      for (let i = 0; i < 25536 && p === 0; i++) {
        const candidate = 40000 + (this.nextEphemeral++ % 25536);
        if (!this.ports.has(key(b.address, candidate))) p = candidate;
      }
      if (p === 0) throw new BindError("EADDRINUSE", `no free port on ${b.address}`);
    } else if (this.ports.has(key(b.address, p))) {
      throw new BindError("EADDRINUSE", `${b.address}:${p} is in use`);
    }
    this.ports.set(key(b.address, p), b);
    return p;
  }

  /** @internal */
  release(b: MemoryBind, port: number): void {
    if (this.ports.get(key(b.address, port)) === b) this.ports.delete(key(b.address, port));
  }

  /** @internal */
  send(from: Endpoint, to: Endpoint, data: Uint8Array): void {
    // The receiver owns what it gets: copy, as the kernel does.
    const copy = data.slice();
    setImmediate(() => {
      if (this.filter && !this.filter(from, to, copy)) {
        this.dropped++;
        return;
      }
      const target = this.ports.get(key(to.address, to.port));
      if (!target) {
        this.dropped++;
        return;
      }
      this.delivered++;
      target.receive(copy, from);
    });
  }
}

export class MemoryBind implements Bind {
  private bound = 0;
  private handler: ReceiveHandler = () => {};
  /** The last fwmark set (there is no routing to apply it to). */
  mark = 0;
  sent = 0;

  constructor(
    private readonly network: MemoryNetwork,
    readonly address: string,
    readonly family: 4 | 6,
  ) {}

  get port(): number {
    return this.bound;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  /** @internal */
  receive(data: Uint8Array, from: Endpoint): void {
    if (this.bound !== 0) this.handler(data, from);
  }

  async prepare(port: number): Promise<PreparedBind> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new BindError("EINVAL", `invalid port ${port}`);
    }
    // Asking for the port already held keeps it, as rebinding a socket to its own port would fail.
    const claimed = port !== 0 && port === this.bound ? port : this.network.claim(this, port);
    let done = false;
    let mark = this.mark;
    return {
      port: claimed,
      setMark: (m: number) => {
        mark = m;
      },
      commit: () => {
        if (done) return;
        done = true;
        this.mark = mark;
        if (this.bound !== 0 && this.bound !== claimed) this.network.release(this, this.bound);
        this.bound = claimed;
      },
      abort: () => {
        if (done) return;
        done = true;
        if (claimed !== this.bound) this.network.release(this, claimed);
      },
    };
  }

  async open(port: number): Promise<number> {
    const p = await this.prepare(port);
    p.commit();
    return p.port;
  }

  setMark(mark: number): void {
    this.mark = mark;
  }

  send(to: Endpoint, data: Uint8Array): void {
    if (this.bound === 0 || to.family !== this.family) return;
    this.sent++;
    this.network.send({ address: this.address, port: this.bound, family: this.family }, to, data);
  }

  async close(): Promise<void> {
    if (this.bound !== 0) this.network.release(this, this.bound);
    this.bound = 0;
  }
}
