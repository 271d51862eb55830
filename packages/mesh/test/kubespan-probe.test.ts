/**
 * The liveness probe (probe.ts, peer-status.ts) against real WireGuard Engines on a fake clock:
 * two nodes whose "controller" does what controller.ts does — reconcile each peer at
 * `nextCheckAt` and on handshake events, send the probes peer-status asks for through the
 * tunnel — over an in-memory network. The Engines run their own timers (persistent keepalive,
 * passive keepalive, new handshake after unanswered data, rekey), so the quiet-pair asymmetry
 * that broke the old receive-silence rule happens here exactly as in the kernel: only one side
 * sends keepalives.
 *
 * Targets (issue): a live idle pair is never `down`; a killed peer is `down` within 60 s; a
 * restarted peer is `up` within 15 s of its first handshake.
 */
import { type Action, type Endpoint, Engine } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { describe, expect, it } from "vitest";
import { PeerStatus } from "../src/kubespan/peer-status.js";
import { devicePeers } from "../src/kubespan/peer-uapi.js";
import {
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmp6Checksum,
  icmp6EchoReplyTo,
  ProbeEchoId,
  parseIcmp6Echo,
  probePacket,
} from "../src/kubespan/probe.js";

const S = 1000;
const T0 = 1_700_000_000_000; // the fake clock: wall ms, also the Engines' monotonic ms
/** One-way delay of the fake network: with none, both keepalive timers would fire together. */
const LatencyMs = 1;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

interface SimNode {
  name: string;
  /** Test range addresses: underlay 198.18.0.0/15, ULAs in fd00::/8. */
  endpoint: Endpoint;
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
}

/** Two nodes, each with the other as its only KubeSpan peer. */
class Mesh {
  now = T0;
  readonly nodes: SimNode[] = [];
  /** Datagrams in flight, delivered {@link LatencyMs} after they were sent. */
  private queue: { to: Endpoint; from: Endpoint; data: Uint8Array; at: number }[] = [];
  /** (time since T0, node, state) each time a node's view of its peer changes. */
  readonly log: { t: number; node: string; state: string }[] = [];

  constructor(os: boolean) {
    for (const [i, name] of ["a", "b"].entries()) {
      const privateKey = nodeCrypto.randomBytes(32);
      this.nodes.push({
        name,
        endpoint: { address: `198.18.0.${i + 1}`, port: 51820, family: 4 },
        ula: `fd00::${i + 1}`,
        privateKey,
        publicKey: nodeCrypto.x25519PublicKey(privateKey),
        engine: this.engine(),
        status: new PeerStatus(i === 0 ? "b" : "a"),
        alive: true,
        os,
        probes: 0,
        passDue: true,
        seq: 0,
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
        "persistent_keepalive_interval=25\n",
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
        this.queue.push({ to: a.to, from: n.endpoint, data: a.data, at: this.now + LatencyMs });
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

  /** Delivers the datagrams due by now (and everything they cause that is due too). */
  private pump(): void {
    while (this.queue.length > 0 && this.queue[0].at <= this.now) {
      const d = this.queue.shift() as (typeof this.queue)[number];
      const dst = this.nodes.find(
        (x) => x.alive && x.endpoint.address === d.to.address && x.endpoint.port === d.to.port,
      );
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
    const snap = devicePeers(n.engine.peers()).get(b64(p.publicKey)) ?? null;
    const before = n.status.state;
    const d = n.status.reconcile([`${p.endpoint.address}:${p.endpoint.port}`], snap, this.now);
    if (d.setEndpoint !== null && d.setEndpoint !== snap?.endpoint) {
      this.set(n, `public_key=${hex(p.publicKey)}\nendpoint=${d.setEndpoint}\n`);
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

  /** Runs everything (Engine timers, controller passes) up to `end`. */
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
    n.status = new PeerStatus(n.status.label);
    n.alive = true;
    n.passDue = true;
    this.configure(n);
  }

  statesOf(name: string, from = 0): string[] {
    return this.log.filter((e) => e.node === name && e.t >= from).map((e) => e.state);
  }
}

describe("probe packet (probe.ts)", () => {
  it("is an ICMPv6 echo request with a checksum that verifies (RFC 4443 §2.3)", () => {
    const pkt = probePacket("fd00::1", "fd00::2", 0x1_0005);
    const e = parseIcmp6Echo(pkt);
    expect(e?.type).toBe(ICMPV6_ECHO_REQUEST);
    expect(e?.id).toBe(ProbeEchoId);
    expect(e?.seq).toBe(5); // 16-bit sequence wraps
    expect(pkt[6]).toBe(58);
    expect((pkt[4] << 8) | pkt[5]).toBe(pkt.length - 40);
    // Any flipped bit breaks the checksum.
    const bad = pkt.slice();
    bad[50] ^= 1;
    expect(parseIcmp6Echo(bad)).toBeNull();
  });

  it("matches a checksum computed independently (RFC 1071 example sum of 16-bit words)", () => {
    // Pseudo-header fd00::1 → fd00::2, length 8, next header 58; message type 128, id 1, seq 1.
    const words = [0xfd00, 0, 0, 0, 0, 0, 0, 1, 0xfd00, 0, 0, 0, 0, 0, 0, 2, 0, 8, 0, 58];
    const msg = [0x8000, 0, 1, 1];
    let sum = [...words, ...msg].reduce((a, b) => a + b, 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const expected = ~sum & 0xffff;
    const src = new Uint8Array(16);
    src[0] = 0xfd;
    src[15] = 1;
    const dst = src.slice();
    dst[15] = 2;
    expect(icmp6Checksum(src, dst, Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1]))).toBe(expected);
  });

  it("is answered by an echo reply with swapped addresses, same id, seq and payload", () => {
    const req = probePacket("fd00::1", "fd00::2", 7);
    const reply = icmp6EchoReplyTo(req);
    expect(reply).not.toBeNull();
    const e = parseIcmp6Echo(reply as Uint8Array);
    expect(e?.type).toBe(ICMPV6_ECHO_REPLY);
    expect([e?.id, e?.seq]).toEqual([ProbeEchoId, 7]);
    expect(Buffer.from(e?.src ?? []).equals(Buffer.from(req.subarray(24, 40)))).toBe(true);
    expect(icmp6EchoReplyTo(reply as Uint8Array)).toBeNull(); // replies are not answered
  });
});

describe.each([
  ["an OS that answers pings (real TUN)", true],
  ["no OS (in-memory TUN): WireGuard's passive keepalive answers", false],
])("probe rule on real Engines, fake clock, %s", (_name, os) => {
  it("never declares a live idle peer down over 10 minutes", () => {
    const m = new Mesh(os);
    m.run(T0 + 600 * S);
    expect(m.statesOf("a")).toContain("up");
    expect(m.statesOf("b")).toContain("up");
    expect(m.log.filter((e) => e.state === "down")).toEqual([]);
    expect(m.nodes.map((n) => n.status.state)).toEqual(["up", "up"]);
    // The asymmetry is real: someone had to probe (the old silence rule failed right here).
    expect(m.nodes[0].probes + m.nodes[1].probes).toBeGreaterThan(0);
  });

  it("declares a killed peer down within 60 s, and a restarted one up within 15 s of its handshake", () => {
    const m = new Mesh(os);
    const [a, b] = m.nodes;
    m.run(T0 + 300 * S);
    expect(a.status.state).toBe("up");
    const killedAt = m.now;
    m.kill(b);
    m.run(killedAt + 90 * S);
    const down = m.log.find((e) => e.node === "a" && e.state === "down");
    expect(down).toBeDefined();
    const downAfter = (down?.t ?? 0) + T0 - killedAt;
    expect(downAfter).toBeLessThanOrEqual(60 * S);
    // Not before the peer could have answered: silence before the probe + the probe timeout.
    expect(downAfter).toBeGreaterThanOrEqual(a.status.timings.probeTimeoutMs);
    expect(a.status.state).toBe("down");

    const restartedAt = m.now;
    m.restart(b);
    m.run(restartedAt + 60 * S);
    const firstHandshake = a.engine.peers()[0].lastHandshakeNs;
    expect(firstHandshake).toBeGreaterThan(BigInt(restartedAt) * 1_000_000n);
    const up = m.log.find((e) => e.node === "a" && e.state === "up" && e.t + T0 > restartedAt);
    expect(up).toBeDefined();
    // a's first handshake with the restarted b — the earliest one after the restart — is what
    // the event-driven pass reacts to; later re-handshakes only move lastHandshakeNs forward.
    const upAt = (up?.t ?? 0) + T0;
    expect(upAt - restartedAt).toBeLessThanOrEqual(15 * S);
    expect(b.status.state).toBe("up");
    // And it stays up, idle, afterwards.
    m.run(m.now + 300 * S);
    expect(m.statesOf("a", upAt - T0 + 1).filter((s) => s === "down")).toEqual([]);
    expect(a.status.state).toBe("up");
  });
});
