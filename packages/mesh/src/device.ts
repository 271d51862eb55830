/**
 * A running WireGuard interface: the sans-IO Engine wired to a TUN device, a UDP Bind and one
 * timer (DESIGN.md "The path of a packet"; wireguard-go's device.NewDevice(tun, bind, logger)).
 *
 * - TUN batch → Engine.handleOutbound per packet; sends go straight to the Bind.
 * - Datagrams → Engine.handleDatagram as they arrive; decrypted packets are collected and
 *   written to the TUN once per event-loop turn (setImmediate; right after the batch, in a
 *   microtask, when the bind receives in batches), so everything the kernel handed
 *   over in one poll is written back in one batch.
 * - One timer, armed for Engine.nextDeadline(), re-armed after every input.
 * - Configuration only through the UAPI text protocol (ipcSet/ipcGet), which the socket server
 *   and embedders share. A failing set changes nothing, listen_port included: the new socket is
 *   bound first and swapped in only when the Engine commits.
 *
 * One bad packet never stops the loop: exceptions are caught, counted and logged at debug.
 */
import { performance } from "node:perf_hooks";
import {
  type Action,
  type CryptoProvider,
  type DropCounts,
  EADDRINUSE,
  EIO,
  ENODEV,
  Engine,
  formatEndpoint,
  type PeerActivity,
  type PeerEvent,
  type PeerSnapshot,
  type SetRequest,
} from "@wirespan/noise";
import type { TunDevice } from "@wirespan/tun";
import { type Bind, BindError, type BindSendStats, type PreparedBind } from "./bind/bind.js";
import { UdpBind } from "./bind/udp-bind.js";
import { deviceCrypto } from "./device-crypto.js";
import { type Logger, silentLogger } from "./logger.js";

/** WireGuard's customary port, used when the embedder does not choose one. */
export const DEFAULT_LISTEN_PORT = 51820;

export interface DeviceOptions {
  tun: TunDevice;
  /** Default: a dual-stack UdpBind. */
  bind?: Bind;
  /**
   * Default: the node provider (libsodium where installed) with the transport AEAD of the native
   * addon's OpenSSL where it loads (device-crypto.ts).
   */
  crypto?: CryptoProvider;
  logger?: Logger;
  /** Default: the TUN's MTU. Either way a later change of the TUN's MTU (onMtuChange) is followed. */
  mtu?: number;
  /**
   * Port to bind at creation. Default 51820, falling back to a free port if that one is taken;
   * an explicit port that is taken is an error. `listen_port` changes it later.
   */
  listenPort?: number;
}

export type DeviceEventHandler = (peer: string, event: PeerEvent) => void;

/** Counters for things that went wrong without stopping the device. */
export interface DeviceErrors {
  /** Exceptions thrown while handling one inbound datagram. */
  inbound: number;
  /** Exceptions thrown while handling one outbound packet. */
  outbound: number;
  /** Exceptions from timers. */
  timer: number;
}

const now = () => performance.now();
const RESOLVED = Promise.resolve();

export class Device {
  // The Engine, TUN and Bind are private: configuration goes through ipcSet, whose
  // prepare/commit step keeps a failing listen_port or fwmark change from changing anything.
  private readonly engine: Engine;
  private readonly tun: TunDevice;
  private readonly bind: Bind;
  readonly errors: DeviceErrors = { inbound: 0, outbound: 0, timer: 0 };
  private readonly logger: Logger;
  private readonly handlers: DeviceEventHandler[] = [];
  private readonly out: Action[] = [];
  private pendingTun: Uint8Array[] = [];
  private flushScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private ipcQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The fwmark of the last set that committed (the bind holds it on its socket). */
  private fwmark = 0;
  private closing: Promise<void> | null = null;
  private readonly closeHandlers: Array<(reason: Error | null) => void> = [];

  private constructor(opts: DeviceOptions, bind: Bind) {
    this.tun = opts.tun;
    this.bind = bind;
    this.logger = opts.logger ?? silentLogger;
    this.engine = new Engine({
      crypto: opts.crypto ?? deviceCrypto(),
      mtu: opts.mtu ?? opts.tun.mtu,
    });
  }

  static async create(opts: DeviceOptions): Promise<Device> {
    const bind = opts.bind ?? new UdpBind();
    if (opts.listenPort !== undefined) {
      await bind.open(opts.listenPort);
    } else {
      try {
        await bind.open(DEFAULT_LISTEN_PORT);
      } catch (err) {
        if (!(err instanceof BindError && err.code === "EADDRINUSE")) throw err;
        await bind.open(0);
      }
    }
    const d = new Device(opts, bind);
    d.start();
    return d;
  }

  private start(): void {
    this.bind.onReceive((data, from) => {
      if (this.closed) return;
      try {
        this.engine.handleDatagram(data, from, now(), this.out);
      } catch (err) {
        this.errors.inbound++;
        this.logger.verbose(`Failed to handle datagram from ${formatEndpoint(from)}: ${err}`);
        this.out.length = 0;
      }
      this.perform();
      this.scheduleTurnEnd();
    });
    // A bind that sheds handshake messages before they reach us says so: cookies from now on.
    this.bind.onOverload?.(() => {
      if (!this.closed) this.engine.reportLoad(now());
    });
    this.tun.onPackets((packets) => {
      if (this.closed) return;
      const t = now();
      for (const p of packets) {
        try {
          this.engine.handleOutbound(p, t, this.out);
        } catch (err) {
          this.errors.outbound++;
          this.logger.verbose(`Failed to handle outbound packet: ${err}`);
          this.out.length = 0;
        }
        this.perform();
      }
      this.scheduleTurnEnd();
    });
    // An MTU changed later (`ip link set … mtu`) reaches the Engine's padding, as wireguard-go
    // follows its TUN's MTU events.
    this.tun.onMtuChange?.((mtu) => {
      if (this.closed) return;
      this.engine.mtu = mtu;
      this.logger.verbose(`MTU updated: ${mtu}`);
    });
    // The interface going away (`ip link del`) ends the device: socket closed, timer stopped.
    this.tun.onClose((reason) => {
      if (reason) this.logger.error(`Interface gone: ${reason.message}`);
      void this.shutdown(reason);
    });
    this.logger.verbose("Interface up");
  }

  /** Carries out the pending actions now, writes and re-arms at the end of the turn. */
  private run(): void {
    this.perform();
    this.scheduleTurnEnd();
  }

  private perform(): void {
    const out = this.out;
    if (out.length === 0) return;
    for (let i = 0; i < out.length; i++) {
      const a = out[i];
      switch (a.kind) {
        case "send":
          this.bind.send(a.to, a.data);
          break;
        case "deliver":
          this.pendingTun.push(a.data);
          break;
        case "event":
          this.emit(a.peer, a.event);
          break;
      }
    }
    out.length = 0;
  }

  /** Everything that arrived in this event-loop turn has been handled: write, re-arm. */
  private scheduleTurnEnd(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A batched bind delivers a whole recvmmsg batch within one callback: a microtask after it
    // sees the complete batch and saves the wait for the loop's check phase (ping RTT −0.08 ms,
    // bench/RESULTS.md). Per-datagram binds keep the once-per-turn write so batches still form.
    // (A promise continuation: Node's queueMicrotask allocates an AsyncResource per call.)
    if (this.bind.batched === true) RESOLVED.then(this.endTurn);
    else setImmediate(this.endTurn);
  }

  private readonly endTurn = () => {
    this.flushScheduled = false;
    this.flush();
    this.arm();
  };

  private flush(): void {
    const batch = this.pendingTun;
    if (batch.length === 0) return;
    this.pendingTun = [];
    if (this.closed) return;
    try {
      this.tun.write(batch);
    } catch (err) {
      this.logger.verbose(`TUN write failed: ${err}`);
    }
  }

  private emit(peer: string, event: PeerEvent): void {
    const who = peerTag(peer);
    switch (event.type) {
      case "handshake-completed":
        this.logger.verbose(`${who} - Handshake completed (${event.role})`);
        break;
      case "handshake-initiated":
        this.logger.verbose(`${who} - Sending handshake initiation`);
        break;
      case "handshake-gave-up":
        this.logger.verbose(`${who} - Handshake did not complete after 20 attempts, giving up`);
        break;
      case "endpoint-changed":
        this.logger.verbose(`${who} - Endpoint changed to ${formatEndpoint(event.endpoint)}`);
        break;
      case "keys-zeroed":
        this.logger.verbose(`${who} - Session keys zeroed`);
        break;
    }
    for (const h of this.handlers) {
      try {
        h(peer, event);
      } catch (err) {
        this.logger.error(`event handler failed: ${err}`);
      }
    }
  }

  /** One timer for the whole device, armed for the Engine's earliest deadline. */
  private arm(): void {
    if (this.closed) return;
    const deadline = this.engine.nextDeadline();
    if (deadline === null) return;
    // An earlier timer that is already armed will re-arm for this deadline when it fires.
    if (this.armedFor !== null && this.armedFor <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(deadline - now())));
  }

  private readonly onTimer = () => {
    this.timer = null;
    this.armedFor = null;
    if (this.closed) return;
    try {
      this.engine.tick(now(), this.out);
    } catch (err) {
      this.errors.timer++;
      this.logger.verbose(`Timer failed: ${err}`);
      this.out.length = 0;
    }
    this.run();
  };

  /**
   * Sends one IP packet into the tunnel as if the TUN had handed it over: routed by destination
   * through the allowed IPs, sealed (or staged behind a handshake) and sent to the peer. Used by
   * embedders that originate traffic themselves (the mesh's liveness probe). Returns false when
   * the device is closed; a packet without a route is dropped and counted like any other.
   */
  sendToTunnel(packet: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      this.engine.handleOutbound(packet, now(), this.out);
    } catch (err) {
      this.errors.outbound++;
      this.logger.verbose(`Failed to handle outbound packet: ${err}`);
      this.out.length = 0;
    }
    this.run();
    return true;
  }

  /**
   * Starts a handshake with a peer now (Engine.initiateHandshake), e.g. to prove an endpoint
   * just chosen for it; at most once per REKEY_TIMEOUT (5 s) per peer. `publicKey` is base64.
   * False when the device is closed or has no such peer.
   */
  initiateHandshake(publicKey: string): boolean {
    if (this.closed) return false;
    const key = Buffer.from(publicKey, "base64");
    if (key.length !== 32) return false;
    const ok = this.engine.initiateHandshake(key, now(), this.out);
    this.run();
    return ok;
  }

  /**
   * One peer's endpoint, last handshake and byte counters (`publicKey` base64); null when the
   * device has no such peer. What the mesh controller polls per peer, instead of {@link peers}.
   */
  peerActivity(publicKey: string): PeerActivity | null {
    const key = Buffer.from(publicKey, "base64");
    return key.length === 32 ? this.engine.peerActivity(key) : null;
  }

  /** Subscribes to peer events (handshakes, endpoint changes, …). */
  onEvent(handler: DeviceEventHandler): void {
    this.handlers.push(handler);
  }

  /** Per-peer state (keys, endpoint, last handshake, transfer counters, allowed IPs). */
  peers(): PeerSnapshot[] {
    return this.engine.peers();
  }

  /**
   * Outgoing datagrams the bind could not simply send: dropped for an error, sent late after a
   * full socket buffer drained, or dropped because it stayed full (null: the bind keeps none).
   */
  sendStats(): BindSendStats | null {
    return this.bind.sendStats?.() ?? null;
  }

  /** Dropped-input counters by reason (bad packets from the network are dropped, not thrown). */
  get drops(): Readonly<DropCounts> {
    return this.engine.drops;
  }

  /** The port the Bind actually listens on. */
  get listenPort(): number {
    return this.bind.port;
  }

  /**
   * The full UAPI get answer: `key=value\n` lines then `errno=0\n` (reference §1.4). The
   * listen port is the one actually bound, as wireguard-go reports it.
   */
  ipcGet(): string {
    const lines = this.engine
      .ipcGet()
      .split("\n")
      .filter((l) => l !== "");
    const firstPeer = lines.findIndex((l) => l.startsWith("public_key="));
    const device = firstPeer < 0 ? lines : lines.slice(0, firstPeer);
    const peers = firstPeer < 0 ? [] : lines.slice(firstPeer);
    const head = device.filter((l) => !l.startsWith("listen_port="));
    const port = this.bind.port;
    if (port !== 0) {
      const at = head.findIndex((l) => l.startsWith("private_key=")) + 1;
      head.splice(at, 0, `listen_port=${port}`);
    }
    return [...head, ...peers, "errno=0", ""].join("\n");
  }

  /**
   * Applies a UAPI set request (`set=1\n…\n\n`, or just the key lines). Resolves to 0 or a
   * negative errno; on failure nothing changed. Requests are applied one at a time.
   */
  ipcSet(text: string): Promise<number> {
    const result = this.ipcQueue.then(() => this.applySet(text));
    this.ipcQueue = result.catch(() => {});
    return result;
  }

  private async applySet(text: string): Promise<number> {
    if (this.closed) return -ENODEV;
    const lines = text.split("\n");
    if (lines[0] === "set=1") lines.shift();
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    const body = lines.length > 0 ? `${lines.join("\n")}\n` : "";

    // A new listen port is bound before the Engine parses anything, and swapped in only when
    // the whole request commits (a set that fails changes nothing).
    let prepared: PreparedBind | null = null;
    const wanted = requestedListenPort(lines);
    if (wanted !== null && !(wanted !== 0 && wanted === this.bind.port)) {
      try {
        prepared = await this.bind.prepare(wanted);
      } catch (err) {
        this.logger.error(
          `UAPI: failed to set listen_port: ${err instanceof Error ? err.message : err}`,
        );
        return -EADDRINUSE;
      }
      if (this.closed) {
        prepared.abort();
        return -ENODEV;
      }
    }
    // Nothing is committed from here until the Engine has applied the request: the fwmark goes
    // onto the socket that will be live afterwards (the prepared one when the port changes), and
    // a live socket's old mark is restored if the request fails after all.
    let restoreMark: number | null = null;
    let requestedMark: number | undefined;
    const beforeCommit = (req: SetRequest): number => {
      if (req.fwmark === undefined) return 0;
      requestedMark = req.fwmark;
      try {
        if (prepared) {
          prepared.setMark(req.fwmark);
        } else {
          this.bind.setMark(req.fwmark);
          restoreMark = this.fwmark;
        }
      } catch (err) {
        if (err instanceof BindError && err.code === "ENOSYS") {
          this.logger.error(`UAPI: ${err.message}`);
        } else {
          this.logger.error(`UAPI: failed to set fwmark: ${err}`);
          return -EADDRINUSE; // wireguard-go answers a failed BindSetMark with IpcErrorPortInUse
        }
      }
      return 0;
    };
    let rc: number;
    try {
      rc = this.engine.ipcSet(body, now(), this.out, beforeCommit);
    } catch (err) {
      this.logger.error(`UAPI: set failed: ${err}`);
      rc = -EIO;
    }
    if (prepared) {
      if (rc === 0) prepared.commit();
      else prepared.abort();
    }
    if (rc === 0 && requestedMark !== undefined) this.fwmark = requestedMark;
    if (rc !== 0) {
      if (restoreMark !== null) {
        try {
          this.bind.setMark(restoreMark);
        } catch {
          // It was set a moment ago; nothing better to do than report the failed request.
        }
      }
      this.out.length = 0;
      this.logger.error(`UAPI: set failed with errno=${rc}; configuration unchanged`);
    }
    this.run();
    return rc;
  }

  /**
   * Called once when the device stops: after close(), or with the reason when its interface
   * disappeared underneath it.
   */
  onClose(handler: (reason: Error | null) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Stops the device: timer, socket and TUN (a non-persistent interface disappears). */
  close(): Promise<void> {
    return this.shutdown(null);
  }

  private shutdown(reason: Error | null): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      // Every step runs even when one before it rejects (the first error is returned): a bind
      // that fails to close must not leave the TUN open or the close handlers uncalled.
      this.closing = (async () => {
        try {
          this.flush();
          await this.bind.close();
        } finally {
          try {
            await this.tun.close();
          } finally {
            const drops = Object.entries(this.engine.drops)
              .map(([why, n]) => `${why}=${n}`)
              .join(" ");
            if (drops) this.logger.verbose(`Dropped input: ${drops}`);
            const sent = this.bind.sendStats?.();
            if (sent && sent.errors + sent.bufferFull + sent.deferred > 0) {
              this.logger.verbose(
                `Output: send-error=${sent.errors} send-buffer-full=${sent.bufferFull} deferred=${sent.deferred}`,
              );
            }
            this.logger.verbose("Interface closed");
            for (const h of this.closeHandlers.splice(0)) h(reason);
          }
        }
      })();
    }
    return this.closing;
  }
}

/**
 * The listen_port of a set request's device section (before the first public_key), if it is a
 * valid u16; anything else is left for the Engine to reject.
 */
function requestedListenPort(lines: readonly string[]): number | null {
  let port: number | null = null;
  for (const line of lines) {
    if (line.startsWith("public_key=")) break;
    if (line.startsWith("listen_port=")) {
      const v = line.slice("listen_port=".length);
      port = /^[0-9]{1,5}$/.test(v) && Number(v) <= 0xffff ? Number(v) : null;
    }
  }
  return port;
}

/** wireguard-go's peer tag: `peer(ABCD…wxyz)` from the base64 public key. */
function peerTag(hex: string): string {
  const b64 = Buffer.from(hex, "hex").toString("base64");
  return `peer(${b64.slice(0, 4)}…${b64.slice(39, 43)})`;
}
