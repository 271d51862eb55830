/**
 * Test harness: Engines wired through an in-memory "UDP network" with a fake monotonic clock,
 * plus IPv4/IPv6 packet builders. Addresses: underlay 198.18.0.0/15, overlay 198.19.0.0/16 and
 * fd00::/8 (test-network rules).
 */
import type { Action, PeerEvent } from "../../src/actions.js";
import { parseIp } from "../../src/cidr.js";
import { nodeCrypto } from "../../src/crypto/node.js";
import type { Endpoint } from "../../src/endpoint.js";
import { Engine } from "../../src/engine.js";

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export interface Datagram {
  from: Endpoint;
  to: Endpoint;
  data: Uint8Array;
  at: number;
}

export interface Node {
  name: string;
  engine: Engine;
  endpoint: Endpoint;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** Packets the engine delivered to its tunnel. */
  delivered: Uint8Array[];
  events: Array<{ peer: string; event: PeerEvent; at: number }>;
}

export class Net {
  now = 1_000;
  readonly nodes: Node[] = [];
  /** Every datagram put on the wire, in order. */
  readonly wire: Datagram[] = [];
  /** Return false to lose a datagram. */
  filter: (d: Datagram) => boolean = () => true;
  private queue: Datagram[] = [];
  /** Wall clock at monotonic 0 (ns since the Unix epoch). */
  wallBase = 1_700_000_000_000_000_000n;

  addNode(
    name: string,
    hostByte: number,
    opts: { mtu?: number; wallOffsetNs?: bigint } = {},
  ): Node {
    const engine = new Engine({
      crypto: nodeCrypto,
      mtu: opts.mtu,
      wallClock: () => this.wallBase + (opts.wallOffsetNs ?? 0n) + BigInt(this.now) * 1_000_000n,
    });
    const privateKey = nodeCrypto.randomBytes(32);
    const node: Node = {
      name,
      engine,
      endpoint: { address: `198.18.0.${hostByte}`, port: 51820, family: 4 },
      privateKey,
      publicKey: nodeCrypto.x25519PublicKey(privateKey),
      delivered: [],
      events: [],
    };
    this.nodes.push(node);
    return node;
  }

  /** UAPI set on a node; throws on a nonzero errno. */
  set(node: Node, body: string): void {
    const out: Action[] = [];
    const r = node.engine.ipcSet(body, this.now, out);
    if (r !== 0) throw new Error(`ipcSet failed: ${r}`);
    this.apply(node, out);
    this.pump();
  }

  /** Configures `a` to know `b` with the given allowed IPs (and b's endpoint unless told not to). */
  link(
    a: Node,
    b: Node,
    allowed: string[],
    opts: { endpoint?: boolean; extra?: string } = {},
  ): void {
    let body = `private_key=${hex(a.privateKey)}\npublic_key=${hex(b.publicKey)}\n`;
    if (opts.endpoint !== false) body += `endpoint=${b.endpoint.address}:${b.endpoint.port}\n`;
    for (const cidr of allowed) body += `allowed_ip=${cidr}\n`;
    body += opts.extra ?? "";
    this.set(a, body);
  }

  apply(node: Node, actions: Action[]): void {
    for (const a of actions) {
      if (a.kind === "send") {
        const d = { from: node.endpoint, to: a.to, data: a.data, at: this.now };
        this.wire.push(d);
        if (this.filter(d)) this.queue.push(d);
      } else if (a.kind === "deliver") {
        node.delivered.push(a.data);
      } else {
        node.events.push({ peer: a.peer, event: a.event, at: this.now });
      }
    }
  }

  /** Delivers queued datagrams (and everything they cause) until the network is quiet. */
  pump(): void {
    while (this.queue.length > 0) {
      const d = this.queue.shift() as Datagram;
      const dst = this.nodes.find(
        (n) => n.endpoint.address === d.to.address && n.endpoint.port === d.to.port,
      );
      if (dst === undefined) continue;
      const out: Action[] = [];
      dst.engine.handleDatagram(d.data, d.from, this.now, out);
      this.apply(dst, out);
    }
  }

  /** Injects one datagram as if `from` sent it to `to`. */
  inject(to: Node, data: Uint8Array, from: Endpoint): void {
    const out: Action[] = [];
    to.engine.handleDatagram(data, from, this.now, out);
    this.apply(to, out);
    this.pump();
  }

  /** A packet from the tunnel of `node`. */
  send(node: Node, packet: Uint8Array): void {
    const out: Action[] = [];
    node.engine.handleOutbound(packet, this.now, out);
    this.apply(node, out);
    this.pump();
  }

  /** Advances the clock to now + ms, running every timer at its deadline. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: number | null = null;
      for (const n of this.nodes) {
        const d = n.engine.nextDeadline();
        if (d !== null && (next === null || d < next)) next = d;
      }
      if (next === null || next > end) break;
      this.now = Math.max(this.now, next);
      for (const n of this.nodes) {
        const out: Action[] = [];
        n.engine.tick(this.now, out);
        this.apply(n, out);
      }
      this.pump();
    }
    this.now = end;
  }

  /** Datagrams of a message type sent by `from` since index `since` of the wire log. */
  sentBy(from: Node, type: number, since = 0): Datagram[] {
    return this.wire
      .slice(since)
      .filter((d) => d.from === from.endpoint && d.data.length >= 4 && d.data[0] === type);
  }
}

/** An IPv4 packet (UDP protocol number, no checksum: the engine does not look). */
export function ipv4(src: string, dst: string, payload: Uint8Array | number): Uint8Array {
  const body = typeof payload === "number" ? fill(payload) : payload;
  const p = new Uint8Array(20 + body.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(parseIp(src), 12);
  p.set(parseIp(dst), 16);
  p.set(body, 20);
  return p;
}

/** An IPv6 packet with next header UDP. */
export function ipv6(src: string, dst: string, payload: Uint8Array | number): Uint8Array {
  const body = typeof payload === "number" ? fill(payload) : payload;
  const p = new Uint8Array(40 + body.length);
  p[0] = 0x60;
  p[4] = body.length >> 8;
  p[5] = body.length & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set(parseIp(src), 8);
  p.set(parseIp(dst), 24);
  p.set(body, 40);
  return p;
}

let fillSeed = 1;
function fill(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (fillSeed++ * 31 + i) & 0xff;
  return b;
}

/** Two linked nodes: a (198.19.0.1, fd00::1) and b (198.19.0.2, fd00::2). */
export function pair(opts: { mtu?: number; bKnowsA?: boolean } = {}): {
  net: Net;
  a: Node;
  b: Node;
} {
  const net = new Net();
  const a = net.addNode("a", 1, { mtu: opts.mtu });
  const b = net.addNode("b", 2, { mtu: opts.mtu });
  net.link(a, b, ["198.19.0.2/32", "fd00::2/128"]);
  net.link(b, a, ["198.19.0.1/32", "fd00::1/128"], { endpoint: opts.bKnowsA ?? false });
  return { net, a, b };
}
