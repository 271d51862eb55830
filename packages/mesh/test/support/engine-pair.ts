/**
 * Two real WireGuard Engines on a fake clock whose "controller" does what controller.ts and
 * peer-reconciler.ts do for one peer — reconcile at `nextCheckAt` and on handshake events, write
 * the chosen endpoint, send the probes peer-status asks for through the tunnel, start a handshake
 * on an endpoint rotation — over an in-memory network with a one-way delay. The Engines run their
 * own timers (persistent keepalive, passive keepalive, new handshake after unanswered data,
 * rekey), so the timer interplay is the kernel's. Test-range addresses: underlay 198.18.0.0/15,
 * ULAs in fd00::/8.
 */
import { type Action, type Endpoint, Engine } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import {
  DefaultPeerStatusTimings,
  PeerStatus,
  type PeerStatusTimings,
} from "../../src/kubespan/peer-status.js";
import { devicePeers } from "../../src/kubespan/peer-uapi.js";
import { icmp6EchoReplyTo, probePacket } from "../../src/kubespan/probe.js";

export const S = 1000;
/** The in-process mesh test's shortened windows (mesh-inprocess.test.ts), keepalive 1 s. */
export const FastTimings: PeerStatusTimings = {
  ...DefaultPeerStatusTimings,
  endpointConnectionTimeoutMs: 5_500,
  probeAfterMs: 1_500,
  probeTimeoutMs: 1_500,
  probeRetryMs: 500,
  maxCheckIntervalMs: 250,
};
/** The fake clock's start: wall ms, also the Engines' monotonic ms. */
export const T0 = 1_700_000_000_000;
/** One-way delay of the fake network: with none, both keepalive timers would fire together. */
const LatencyMs = 1;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const text = (e: Endpoint) => `${e.address}:${e.port}`;

export interface SimNode {
  name: string;
  /** The address it sends from; `aliases` reach it too (a second interface). */
  endpoint: Endpoint;
  aliases: Endpoint[];
  /** What it advertises (its peer's candidates, §4.4 order). */
  advertised: string[];
  ula: string;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  engine: Engine;
  status: PeerStatus;
  alive: boolean;
  /** Whether an OS behind the TUN answers echo requests (a real TUN) or nothing does. */
  os: boolean;
  probes: number;
  passDue: boolean;
  seq: number;
  /** Handshakes started by the controller on an endpoint rotation. */
  forcedHandshakes: number;
}

export interface EnginePairOptions {
  /** An OS behind each TUN answers pings (default true). */
  readonly os?: boolean;
  readonly timings?: PeerStatusTimings;
  readonly keepaliveSeconds?: number;
  /** Extra addresses of node b, advertised after (or, with `deadFirst`, a dead one before) its own. */
  readonly bAliases?: number;
  /** b advertises an address nobody has before its real ones (§4.4 cycling). */
  readonly deadFirst?: boolean;
}

/** Two nodes, each with the other as its only KubeSpan peer. */
export class EnginePair {
  now = T0;
  readonly nodes: SimNode[] = [];
  /** Return false to lose a datagram (a partition, a lossy link). */
  filter: (d: { from: Endpoint; to: Endpoint; data: Uint8Array }) => boolean = () => true;
  /** Datagrams in flight, delivered {@link LatencyMs} after they were sent. */
  private queue: { to: Endpoint; from: Endpoint; data: Uint8Array; at: number }[] = [];
  /** (time since T0, node, state) each time a node's view of its peer changes. */
  readonly log: { t: number; node: string; state: string }[] = [];
  private readonly timings: PeerStatusTimings;
  private readonly keepaliveSeconds: number;

  constructor(opts: EnginePairOptions = {}) {
    this.timings = opts.timings ?? DefaultPeerStatusTimings;
    this.keepaliveSeconds = opts.keepaliveSeconds ?? 25;
    for (const [i, name] of ["a", "b"].entries()) {
      const privateKey = nodeCrypto.randomBytes(32);
      const endpoint: Endpoint = { address: `198.18.0.${i + 1}`, port: 51820, family: 4 };
      const aliases: Endpoint[] = [];
      if (i === 1) {
        for (let k = 0; k < (opts.bAliases ?? 0); k++) {
          aliases.push({ address: `198.18.1.${k + 2}`, port: 51820, family: 4 });
        }
      }
      const advertised = [endpoint, ...aliases].map(text);
      if (i === 1 && opts.deadFirst) advertised.unshift("198.18.2.99:51820");
      this.nodes.push({
        name,
        endpoint,
        aliases,
        advertised,
        ula: `fd00::${i + 1}`,
        privateKey,
        publicKey: nodeCrypto.x25519PublicKey(privateKey),
        engine: this.engine(),
        status: new PeerStatus(i === 0 ? "b" : "a", this.timings),
        alive: true,
        os: opts.os ?? true,
        probes: 0,
        passDue: true,
        seq: 0,
        forcedHandshakes: 0,
      });
    }
    for (const n of this.nodes) this.configure(n);
  }

  private engine(): Engine {
    return new Engine({ crypto: nodeCrypto, wallClock: () => BigInt(this.now) * 1_000_000n });
  }

  peerOf(n: SimNode): SimNode {
    return this.nodes[0] === n ? this.nodes[1] : this.nodes[0];
  }

  /** What the controller writes on a peer's first pass: key, PSK, allowed IPs, keepalive. */
  private configure(n: SimNode): void {
    const p = this.peerOf(n);
    this.set(
      n,
      `private_key=${hex(n.privateKey)}\npublic_key=${hex(p.publicKey)}\n` +
        `preshared_key=${"11".repeat(32)}\nallowed_ip=${p.ula}/128\n` +
        `persistent_keepalive_interval=${this.keepaliveSeconds}\n`,
    );
  }

  private set(n: SimNode, body: string): void {
    const out: Action[] = [];
    if (n.engine.ipcSet(body, this.now, out) !== 0) throw new Error("ipcSet failed");
    this.apply(n, out);
  }

  private apply(n: SimNode, out: Action[]): void {
    for (const a of out) {
      if (a.kind === "send") {
        const d = { to: a.to, from: n.endpoint, data: a.data, at: this.now + LatencyMs };
        if (this.filter(d)) this.queue.push(d);
      } else if (a.kind === "deliver") this.deliver(n, a.data);
      else if (a.event.type === "handshake-completed") n.passDue = true; // event-driven pass
    }
  }

  /** A packet the Engine wrote to the TUN: the OS (if any) answers echo requests. */
  private deliver(n: SimNode, packet: Uint8Array): void {
    if (!n.os) return;
    const reply = icmp6EchoReplyTo(packet);
    if (reply === null) return;
    const out: Action[] = [];
    n.engine.handleOutbound(reply, this.now, out);
    this.apply(n, out);
  }

  private reaches(n: SimNode, to: Endpoint): boolean {
    return [n.endpoint, ...n.aliases].some((e) => e.address === to.address && e.port === to.port);
  }

  /** Delivers the datagrams due by now (and everything they cause that is due too). */
  private pump(): void {
    while (this.queue.length > 0 && this.queue[0].at <= this.now) {
      const d = this.queue.shift() as (typeof this.queue)[number];
      const dst = this.nodes.find((x) => x.alive && this.reaches(x, d.to));
      if (!dst) continue;
      const out: Action[] = [];
      dst.engine.handleDatagram(d.data, d.from, this.now, out);
      this.apply(dst, out);
    }
  }

  /** One controller pass of controller.ts for node n's single peer. */
  private pass(n: SimNode): void {
    n.passDue = false;
    const p = this.peerOf(n);
    const key = b64(p.publicKey);
    const snap = devicePeers(n.engine.peers()).get(key) ?? null;
    const before = n.status.state;
    const d = n.status.reconcile(p.advertised, snap, this.now);
    if (d.setEndpoint !== null && d.setEndpoint !== snap?.endpoint) {
      this.set(n, `public_key=${hex(p.publicKey)}\nendpoint=${d.setEndpoint}\n`);
    }
    // A rotated endpoint is proven by a handshake started now (peer-reconciler.ts; its stagger
    // by key order is left out: only one side of the pair ever has several candidates here).
    if (
      d.rotated &&
      (n.status.lastHandshakeTime ?? -Infinity) <= (n.status.lastEndpointChange ?? -Infinity)
    ) {
      const out: Action[] = [];
      n.engine.initiateHandshake(p.publicKey, this.now, out);
      n.forcedHandshakes++;
      this.apply(n, out);
    }
    if (n.status.state !== before) {
      this.log.push({ t: this.now - T0, node: n.name, state: n.status.state });
    }
    if (n.status.probeDue(this.now)) {
      const out: Action[] = [];
      n.engine.handleOutbound(probePacket(n.ula, p.ula, n.seq++), this.now, out);
      n.status.recordProbe(this.now);
      n.probes++;
      this.apply(n, out);
    }
    this.pump();
  }

  /** Runs everything (Engine timers, controller passes) up to `until`. */
  run(until: number): void {
    for (;;) {
      this.pump();
      for (const n of this.nodes) if (n.alive && n.passDue) this.pass(n);
      let next = this.queue.length > 0 ? this.queue[0].at : Infinity;
      for (const n of this.nodes) {
        if (!n.alive) continue;
        next = Math.min(next, n.engine.nextDeadline() ?? Infinity, n.status.nextCheckAt(this.now));
      }
      if (next > until) break;
      this.now = Math.max(this.now, next);
      // A datagram arriving at the instant a timer fires is handled first: the receiver's
      // persistent keepalive is then always pre-empted, the quiet-pair asymmetry in its purest
      // form (one side sends every keepalive, the other hears only those).
      this.pump();
      for (const n of this.nodes) {
        if (!n.alive) continue;
        const out: Action[] = [];
        n.engine.tick(this.now, out);
        this.apply(n, out);
        if (n.status.nextCheckAt(this.now - 1) <= this.now) n.passDue = true;
      }
    }
    this.now = until;
  }

  kill(n: SimNode): void {
    n.alive = false;
  }

  /** The same node (same key) starting again: fresh Engine, fresh status, no session. */
  restart(n: SimNode): void {
    n.engine = this.engine();
    n.status = new PeerStatus(n.status.label, this.timings);
    n.alive = true;
    n.passDue = true;
    this.configure(n);
  }

  statesOf(name: string, from = 0): string[] {
    return this.log.filter((e) => e.node === name && e.t >= from).map((e) => e.state);
  }
}
