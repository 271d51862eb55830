/**
 * Handshake-flood benchmark, in process (no root needed): one responder Engine on the real
 * clock and on a simulated one.
 *
 * 1. Answer rate: valid initiations from 256 configured peers, load detection off — handshake
 *    responses per second (each costs the responder four X25519 operations and the hashing).
 * 2. Cookie-reply rate: once under load (more than `underLoadThreshold` handshake messages in a
 *    second), an initiation without a valid mac2 costs only mac1 + a cookie reply (whitepaper
 *    §5.4.7, wireguard-go `device/receive.go`): cookie replies per second.
 * 3. Legitimate peer under flood (simulated clock): an attacker replays a captured initiation at
 *    10,000/s from changing source ports; a legitimate peer starts a handshake. The responder
 *    answers it with a cookie reply, the peer retries after REKEY_TIMEOUT with mac2 and the
 *    handshake must complete.
 *
 * Run alone: node --conditions=@wirespan/source --import tsx bench/flood/in-process.ts
 */
import { pathToFileURL } from "node:url";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import {
  type Action,
  type Endpoint,
  Engine,
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  readU32,
} from "@wirespan/noise/internal";

const PEERS = 256;
const WALL_BASE = 1_700_000_000_000_000_000n;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

interface Node {
  engine: Engine;
  priv: Uint8Array;
  pub: Uint8Array;
  endpoint: Endpoint;
  /** The node's simulated monotonic clock, ms; its wall clock follows it. */
  clock: { now: number };
}

function node(address: string, port: number): Node {
  const clock = { now: 1_000 };
  const engine = new Engine({
    crypto: nodeCrypto,
    wallClock: () => WALL_BASE + BigInt(Math.floor(clock.now * 1e6)),
  });
  const priv = nodeCrypto.randomBytes(32);
  const n = {
    engine,
    priv,
    pub: nodeCrypto.x25519PublicKey(priv),
    endpoint: { address, port, family: 4 as const },
    clock,
  };
  set(n, `private_key=${hex(priv)}\nlisten_port=${port}\n`);
  return n;
}

function set(n: Node, body: string): void {
  const r = n.engine.ipcSet(body, n.clock.now, []);
  if (r !== 0) throw new Error(`ipcSet failed: ${r}`);
}

/** An IPv4 packet from 198.19.6.<src> to 198.19.6.1 (enough header for routing). */
function packetTo(src: number): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[2] = 0;
  p[3] = 28;
  p[9] = 17;
  p.set([198, 19, 6, src & 0xff], 12);
  p.set([198, 19, 6, 1], 16);
  return p;
}

function messageType(d: Uint8Array): number {
  return d.length >= 4 ? readU32(d, 0) : -1;
}

/** The initiations `from` sends for an outbound packet at its current clock. */
function initiate(from: Node, src: number): Uint8Array[] {
  const out: Action[] = [];
  from.engine.handleOutbound(packetTo(src), from.clock.now, out);
  return out.flatMap((a) =>
    a.kind === "send" && messageType(a.data) === MESSAGE_HANDSHAKE_INITIATION ? [a.data] : [],
  );
}

interface Setup {
  responder: Node;
  initiators: Node[];
}

function setup(): Setup {
  const responder = node("198.18.6.1", 51_960);
  const initiators: Node[] = [];
  for (let i = 0; i < PEERS; i++) {
    const n = node(`198.18.6.${(i % 250) + 2}`, 40_000 + i);
    set(
      n,
      `public_key=${hex(responder.pub)}\nendpoint=198.18.6.1:51960\nallowed_ip=198.19.6.1/32\n`,
    );
    set(responder, `public_key=${hex(n.pub)}\nallowed_ip=10.${i >> 8}.${i & 0xff}.0/24\n`);
    initiators.push(n);
  }
  return { responder, initiators };
}

/** `rounds` fresh initiations from every initiator (each round 6 s later on their clocks). */
function makeInitiations(s: Setup, rounds: number): Array<{ data: Uint8Array; from: Endpoint }> {
  const all: Array<{ data: Uint8Array; from: Endpoint }> = [];
  for (let r = 0; r < rounds; r++) {
    s.initiators.forEach((n, i) => {
      n.clock.now += 6_000; // past REKEY_TIMEOUT: a new initiation, newer TAI64N
      for (const data of initiate(n, i)) all.push({ data, from: n.endpoint });
    });
  }
  return all;
}

export interface FloodResult {
  responsesPerSecond: number;
  cookieRepliesPerSecond: number;
  legit: {
    completed: boolean;
    /** Simulated seconds from the first initiation to the completed handshake. */
    seconds: number;
    cookieRepliesToLegit: number;
    floodSent: number;
    floodCookieReplies: number;
  };
}

function answerRate(s: Setup): number {
  const r = s.responder;
  r.engine.underLoadThreshold = Number.POSITIVE_INFINITY;
  const inits = makeInitiations(s, 4);
  const out: Action[] = [];
  let responses = 0;
  const t0 = performance.now();
  for (const m of inits) {
    r.engine.handleDatagram(m.data, m.from, performance.now(), out);
    for (const a of out)
      if (a.kind === "send" && messageType(a.data) === MESSAGE_HANDSHAKE_RESPONSE) responses++;
    out.length = 0;
  }
  const dt = (performance.now() - t0) / 1000;
  if (responses < inits.length * 0.9)
    throw new Error(`only ${responses}/${inits.length} initiations answered`);
  return responses / dt;
}

function cookieRate(s: Setup): number {
  const r = s.responder;
  r.engine.underLoadThreshold = 16;
  const [victim] = makeInitiations(s, 1);
  const out: Action[] = [];
  let replies = 0;
  const n = 200_000;
  // Enter the load state first (threshold exceeded within one second).
  for (let i = 0; i < 32; i++)
    r.engine.handleDatagram(victim.data, { ...victim.from, port: 1 + i }, performance.now(), out);
  out.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    r.engine.handleDatagram(
      victim.data,
      { address: "198.18.7.1", port: 1024 + (i % 60_000), family: 4 },
      performance.now(),
      out,
    );
    for (const a of out)
      if (a.kind === "send" && messageType(a.data) === MESSAGE_HANDSHAKE_COOKIE) replies++;
    out.length = 0;
  }
  const dt = (performance.now() - t0) / 1000;
  return replies / dt;
}

/** Simulated clock: responder flooded at 10,000 initiations/s while a legitimate peer connects. */
function legitUnderFlood(): FloodResult["legit"] {
  const responder = node("198.18.6.1", 51_960);
  const legit = node("198.18.6.2", 51_961);
  const attacker = node("198.18.6.66", 51_962);
  set(
    legit,
    `public_key=${hex(responder.pub)}\nendpoint=198.18.6.1:51960\nallowed_ip=198.19.6.1/32\n`,
  );
  set(responder, `public_key=${hex(legit.pub)}\nallowed_ip=198.19.6.2/32\n`);
  // The attacker knows only the responder's public key (enough for a valid mac1).
  set(
    attacker,
    `public_key=${hex(responder.pub)}\nendpoint=198.18.6.1:51960\nallowed_ip=198.19.6.1/32\n`,
  );
  const [captured] = initiate(attacker, 66);
  const stepMs = 10;
  const perStep = 100;
  let floodSent = 0;
  let floodCookieReplies = 0;
  let cookieRepliesToLegit = 0;
  let started: number | null = null;
  const done = { at: null as number | null };
  const toResponder: Array<{ data: Uint8Array; from: Endpoint }> = [];
  const toLegit: Uint8Array[] = [];
  const out: Action[] = [];
  const deliverResponder = (data: Uint8Array, from: Endpoint, now: number) => {
    responder.engine.handleDatagram(data, from, now, out);
    for (const a of out) {
      if (a.kind !== "send") continue;
      if (a.to.address === legit.endpoint.address && a.to.port === legit.endpoint.port) {
        if (messageType(a.data) === MESSAGE_HANDSHAKE_COOKIE) cookieRepliesToLegit++;
        toLegit.push(a.data);
      } else if (messageType(a.data) === MESSAGE_HANDSHAKE_COOKIE) {
        floodCookieReplies++;
      }
    }
    out.length = 0;
  };
  const legitOut = (actions: Action[]) => {
    for (const a of actions) {
      if (a.kind === "send") toResponder.push({ data: a.data, from: legit.endpoint });
      if (a.kind === "event" && a.event.type === "handshake-completed" && done.at === null) {
        done.at = legit.clock.now;
      }
    }
    actions.length = 0;
  };
  const la: Action[] = [];
  for (let t = 0; t < 30_000 && done.at === null; t += stepMs) {
    const now = 1_000 + t;
    responder.clock.now = now;
    legit.clock.now = now;
    for (let i = 0; i < perStep; i++) {
      deliverResponder(
        captured,
        { address: "198.18.7.1", port: 1024 + (floodSent % 60_000), family: 4 },
        now,
      );
      floodSent++;
    }
    if (t === 1_000) {
      started = now;
      legit.engine.handleOutbound(packetTo(2), now, la);
      legitOut(la);
    }
    legit.engine.tick(now, la);
    legitOut(la);
    while (toResponder.length > 0 || toLegit.length > 0) {
      const m = toResponder.shift();
      if (m) deliverResponder(m.data, m.from, now);
      const d = toLegit.shift();
      if (d) {
        legit.engine.handleDatagram(d, responder.endpoint, now, la);
        legitOut(la);
      }
    }
  }
  const at = done.at;
  const completed = at !== null && started !== null;
  return {
    completed,
    seconds: at !== null && started !== null ? (at - started) / 1000 : Number.NaN,
    cookieRepliesToLegit,
    floodSent,
    floodCookieReplies,
  };
}

export function measureFlood(): FloodResult {
  const s = setup();
  return {
    responsesPerSecond: answerRate(s),
    cookieRepliesPerSecond: cookieRate(s),
    legit: legitUnderFlood(),
  };
}

export function formatFlood(r: FloodResult): string {
  const l = r.legit;
  return [
    "| handshake flood (in-process Engine, node+sodium) | figure |",
    "|---|---:|",
    `| initiations answered with a response, per second (not under load) | ${Math.round(r.responsesPerSecond).toLocaleString("en")} |`,
    `| initiations answered with a cookie reply, per second (under load) | ${Math.round(r.cookieRepliesPerSecond).toLocaleString("en")} |`,
    `| legitimate peer completes its handshake during a 10,000/s flood | ${l.completed ? `yes, after ${l.seconds.toFixed(2)} s simulated (${l.cookieRepliesToLegit} cookie reply, retried with mac2)` : "NO"} |`,
    `| flood initiations sent / cookie replies to them (simulated) | ${l.floodSent.toLocaleString("en")} / ${l.floodCookieReplies.toLocaleString("en")} |`,
  ].join("\n");
}

/** Entry for bench/run.ts: returns the Markdown table. */
export async function runFloodBench(progress: (line: string) => void): Promise<string> {
  progress("handshake flood: in-process Engine");
  return formatFlood(measureFlood());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(formatFlood(measureFlood()));
}
