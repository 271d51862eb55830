/**
 * Linux TUN devices through the native addon: create or attach by name, attach an inherited
 * descriptor (WG_TUN_FD, as wireguard-go does), batched reads and writes.
 *
 * Privileges: creating an interface, setting its MTU and bringing it up need CAP_NET_ADMIN.
 * Attaching to an interface an administrator made with
 * `ip tuntap add dev NAME mode tun user USER` does not; the MTU and up-state ioctls then fail
 * with EPERM, and the device is used as it is (a process warning says so). The administrator
 * sets them instead: `ip link set NAME mtu 1420 up`.
 */
import { constants } from "node:os";
import { CloseSignal } from "./close-signal.js";
import { type NativePoller, type NativeStats, type NativeTunAddon, nativeTun } from "./native.js";
import type { TunDevice } from "./tun-device.js";
import { explainFdError, explainOpenError, TunError } from "./tun-error.js";

/** wireguard-go's DefaultMTU: 1500 less the IPv6 + UDP + WireGuard transport overhead (80). */
export const DEFAULT_MTU = 1420;
/** Packets read per wakeup at most, and so per packets-handler call. */
export const DEFAULT_BATCH_SIZE = 128;
/** Extra bytes per read slot beyond the MTU, so a small MTU raise does not truncate reads. */
const READ_SLACK = 64;
/** Slots start on cache-line boundaries. */
const SLOT_ALIGN = 64;
/**
 * How often the interface's MTU is read (one SIOCGIFMTU ioctl). An MTU changed later with
 * `ip link` then reaches the reader and the Engine's padding within this long. Polling rather
 * than an rtnetlink RTNLGRP_LINK subscription (what wireguard-go's tun_linux.go listens to): no
 * second socket, no netlink parser in the addon, works the same for a descriptor handed in by
 * WG_TUN_FD, and an MTU change is an administrator's act, not a packet-rate event.
 */
const MTU_POLL_MS = 1_000;
/** IPv4's minimum MTU (RFC 791) and the largest IP packet. */
const MIN_MTU = 68;
const MAX_MTU = 65535;

export interface LinuxTunOptions {
  /** Interface name, 1 to 15 bytes; `%d` lets the kernel pick a number (e.g. `wst%d`). */
  name: string;
  /** Default 1420. */
  mtu?: number;
  /** Bring the interface up. Default true. */
  up?: boolean;
  /** Packets per read batch. Default 128. */
  batchSize?: number;
}

export interface AttachTunOptions {
  /** Set this MTU (when allowed); by default the interface's MTU is kept. */
  mtu?: number;
  /** Bring the interface up (when allowed). Default false: the creator of the fd decides. */
  up?: boolean;
  /** Packets per read batch. Default 128. */
  batchSize?: number;
}

/** Counters of a Linux TUN (see {@link NativeStats} for the fields beyond {@link TunStats}). */
export type LinuxTunStats = NativeStats;

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([k, v]) => [v, k] as [number, string]),
);

/** A TUN interface attached through a descriptor this object owns. */
export class LinuxTun implements TunDevice {
  readonly name: string;
  #mtu: number;
  readonly #addon: NativeTunAddon;
  readonly #poller: NativePoller;
  readonly #batchSize: number;
  #buffer: ArrayBuffer;
  #lengths: Int32Array;
  #slot: number;
  /** Cached view per slot: reused while a slot keeps receiving packets of the same length. */
  #views: Array<Uint8Array | undefined>;
  readonly #mtuHandlers: Array<(mtu: number) => void> = [];
  readonly #mtuPoll: NodeJS.Timeout;
  #handler: ((packets: Uint8Array[]) => void) | undefined;
  readonly #close = new CloseSignal();

  /** Internal: use {@link openLinuxTun}, {@link attachTunFd} or {@link openTunFromEnv}. */
  constructor(
    addon: NativeTunAddon,
    fd: number,
    name: string,
    mtu: number,
    batchSize: number,
    vnet = false,
  ) {
    this.name = name;
    this.#mtu = mtu;
    this.#addon = addon;
    this.#batchSize = batchSize;
    this.#slot = slotFor(mtu);
    this.#buffer = new ArrayBuffer(this.#slot * batchSize);
    this.#lengths = new Int32Array(batchSize);
    this.#views = new Array(batchSize).fill(undefined);
    this.#poller = new addon.TunPoller(
      fd,
      this.#buffer,
      this.#slot,
      batchSize,
      this.#lengths,
      (n) => this.#onRead(n),
      vnet,
    );
    // Watch for errors from the start, so deletion is noticed even before anyone reads.
    this.#poller.start(false);
    this.#mtuPoll = setInterval(() => this.#checkMtu(), MTU_POLL_MS);
    this.#mtuPoll.unref();
  }

  /** The interface's MTU: as opened, then as last polled. */
  get mtu(): number {
    return this.#mtu;
  }

  onMtuChange(handler: (mtu: number) => void): void {
    this.#mtuHandlers.push(handler);
  }

  /**
   * Reads the MTU; when it changed, grows the read slots first if packets could now be longer
   * than a slot (they would be truncated and dropped), then tells the handlers.
   */
  #checkMtu(): void {
    if (this.#close.closed) return;
    let mtu: number;
    try {
      mtu = this.#addon.getMtu(this.name);
    } catch {
      return; // renamed or being deleted: the poller reports a deletion
    }
    if (mtu === this.#mtu) return;
    const slot = slotFor(mtu);
    if (slot > this.#slot) {
      const buffer = new ArrayBuffer(slot * this.#batchSize);
      const lengths = new Int32Array(this.#batchSize);
      this.#poller.setBuffer(buffer, slot, this.#batchSize, lengths);
      this.#buffer = buffer;
      this.#lengths = lengths;
      this.#slot = slot;
      this.#views = new Array(this.#batchSize).fill(undefined);
    }
    this.#mtu = mtu;
    for (const h of this.#mtuHandlers) h(mtu);
  }

  onPackets(handler: (packets: Uint8Array[]) => void): void {
    this.#handler = handler;
    if (!this.#close.closed) this.#poller.start(true);
  }

  write(packets: Uint8Array[]): void {
    if (packets.length === 0) return;
    this.#poller.write(packets);
  }

  onClose(handler: (reason: Error | null) => void): void {
    this.#close.listen(handler);
  }

  async close(): Promise<void> {
    this.#shutdown(null);
    // The poll handle is released in libuv's close phase; let it run before resolving.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Read/write counters, still readable after close. */
  stats(): LinuxTunStats {
    return this.#poller.stats();
  }

  /** Whether an open device keeps the process alive (it does by default, like a server). */
  ref(keepAlive = true): void {
    this.#poller.setRef(keepAlive);
  }

  #onRead(n: number): void {
    if (n < 0) {
      const code = errnoNames.get(-n) ?? `errno ${-n}`;
      // EBADFD from read(2) or POLLERR (libuv: EBADF) is how tun.c reports a deleted interface.
      this.#shutdown(new TunError(`TUN interface ${this.name} disappeared (${code})`, code));
      return;
    }
    const handler = this.#handler;
    if (handler === undefined) return;
    const packets: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const len = this.#lengths[i];
      let view = this.#views[i];
      if (view === undefined || view.byteLength !== len) {
        view = new Uint8Array(this.#buffer, i * this.#slot, len);
        this.#views[i] = view;
      }
      packets.push(view);
    }
    handler(packets);
  }

  #shutdown(reason: Error | null): void {
    this.#close.fire(reason, () => {
      clearInterval(this.#mtuPoll);
      this.#handler = undefined;
      this.#poller.close();
    });
  }
}

/** Read slot for an MTU: room for a small raise, cache-line aligned. */
function slotFor(mtu: number): number {
  return Math.ceil((mtu + READ_SLACK) / SLOT_ALIGN) * SLOT_ALIGN;
}

/** Linux's dev_valid_name(): 1 to 15 bytes, not "." or "..", no '/', ':' or whitespace. */
function checkName(name: unknown): string {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    Buffer.byteLength(name) > 15 ||
    name === "." ||
    name === ".." ||
    /[/:\s]/.test(name)
  ) {
    throw new TypeError(
      `invalid interface name ${JSON.stringify(name)}: 1 to 15 bytes, no '/', ':' or spaces`,
    );
  }
  return name;
}

function checkMtu(mtu: unknown): number {
  if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new RangeError(`invalid MTU ${String(mtu)}: an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
  return mtu;
}

function checkBatch(batchSize: unknown): number {
  if (
    typeof batchSize !== "number" ||
    !Number.isInteger(batchSize) ||
    batchSize < 1 ||
    batchSize > 4096
  ) {
    throw new RangeError(`invalid batchSize ${String(batchSize)}: an integer from 1 to 4096`);
  }
  return batchSize;
}

function isPermissionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === "EPERM" || code === "EACCES";
}

/**
 * Applies the MTU and up state where they differ; without CAP_NET_ADMIN leaves them as they are
 * and warns. Returns the MTU the interface ends up with.
 */
function configure(addon: NativeTunAddon, name: string, mtu: number | undefined, up: boolean) {
  if (mtu !== undefined && addon.getMtu(name) !== mtu) {
    try {
      addon.setMtu(name, mtu);
    } catch (err) {
      if (!isPermissionError(err)) {
        throw new TunError(
          `cannot set MTU ${mtu} on ${name}: ${(err as Error).message}`,
          (err as { code?: string }).code,
          err,
        );
      }
      process.emitWarning(
        `no permission to set MTU ${mtu} on ${name}; keeping ${addon.getMtu(name)} ` +
          `(an administrator can run: ip link set ${name} mtu ${mtu})`,
        { code: "WIRESPAN_TUN_MTU" },
      );
    }
  }
  if (up && !addon.isUp(name)) {
    try {
      addon.setUp(name);
    } catch (err) {
      if (!isPermissionError(err)) {
        throw new TunError(
          `cannot bring ${name} up: ${(err as Error).message}`,
          (err as { code?: string }).code,
          err,
        );
      }
      process.emitWarning(
        `no permission to bring ${name} up; it stays down (an administrator can run: ` +
          `ip link set ${name} up)`,
        { code: "WIRESPAN_TUN_DOWN" },
      );
    }
  }
  return addon.getMtu(name);
}

/**
 * Creates TUN `name` (IFF_TUN | IFF_NO_PI), or attaches to an existing one, sets its MTU and
 * brings it up. With TCP segmentation offload (IFF_VNET_HDR + TSO, native offload.h) unless
 * WIRESPAN_TUN_OFFLOAD=0: the kernel's TCP hands over 64 KiB super-packets, split natively. A created interface is deleted again by close(); a persistent one
 * (`ip tuntap add`) stays.
 */
export async function openLinuxTun(opts: LinuxTunOptions): Promise<LinuxTun> {
  const requested = checkName(opts?.name);
  const mtu = checkMtu(opts.mtu ?? DEFAULT_MTU);
  const batchSize = checkBatch(opts.batchSize ?? DEFAULT_BATCH_SIZE);
  const addon = nativeTun();
  let fd: number;
  try {
    fd = addon.openTun(requested, offloadWanted());
  } catch (err) {
    throw explainOpenError(err, requested);
  }
  try {
    const name = addon.tunName(fd);
    const actualMtu = configure(addon, name, mtu, opts.up ?? true);
    return new LinuxTun(addon, fd, name, actualMtu, batchSize, vnetOf(addon, fd));
  } catch (err) {
    addon.closeFd(fd);
    throw err;
  }
}

/**
 * Adopts an already attached TUN descriptor, e.g. one inherited through WG_TUN_FD. The device
 * owns the fd from then on (close() closes it). The name is read with TUNGETIFF.
 */
export async function attachTunFd(fd: number, opts: AttachTunOptions = {}): Promise<LinuxTun> {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`invalid file descriptor ${String(fd)}`);
  }
  const mtu = opts.mtu === undefined ? undefined : checkMtu(opts.mtu);
  const batchSize = checkBatch(opts.batchSize ?? DEFAULT_BATCH_SIZE);
  const addon = nativeTun();
  let name: string;
  try {
    name = addon.tunName(fd);
    addon.prepareFd(fd);
  } catch (err) {
    throw explainFdError(err, fd);
  }
  const actualMtu = configure(addon, name, mtu, opts.up ?? false);
  return new LinuxTun(addon, fd, name, actualMtu, batchSize, vnetOf(addon, fd));
}

/** Options of {@link openTunFromEnv}; `env` defaults to process.env. */
export interface TunFromEnvOptions {
  mtu?: number;
  up?: boolean;
  batchSize?: number;
  env?: Record<string, string | undefined>;
}

/**
 * wireguard-go's convention: when WG_TUN_FD holds a descriptor number, that TUN is used (its
 * own name wins over `name`); otherwise TUN `name` is opened with {@link openLinuxTun}.
 */
export async function openTunFromEnv(
  name: string,
  opts: TunFromEnvOptions = {},
): Promise<LinuxTun> {
  const raw = (opts.env ?? process.env).WG_TUN_FD;
  const { env: _env, ...rest } = opts;
  if (raw !== undefined && raw !== "") {
    if (!/^\d+$/.test(raw))
      throw new TypeError(`WG_TUN_FD must be a descriptor number, got ${JSON.stringify(raw)}`);
    return attachTunFd(Number(raw), rest);
  }
  return openLinuxTun({ name, ...rest });
}

/** TCP segmentation offload on new TUNs (native offload.h); WIRESPAN_TUN_OFFLOAD=0 turns it off. */
function offloadWanted(): boolean {
  return process.env.WIRESPAN_TUN_OFFLOAD !== "0";
}

/** Whether `fd` carries virtio-net headers; an addon without the query never asked for them. */
function vnetOf(addon: NativeTunAddon, fd: number): boolean {
  return typeof addon.tunVnet === "function" ? addon.tunVnet(fd) : false;
}
