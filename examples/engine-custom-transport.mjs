// @ts-check
/**
 * The protocol engine over a transport of your own: two Engines (no I/O of their own) exchange
 * WireGuard datagrams through a MessageChannel — a stand-in for whatever carries bytes in your
 * program (a WebSocket, a WebRTC data channel, a serial line). The engine is told about
 * datagrams, tunnel packets and the time, and answers with actions: send this datagram, deliver
 * this packet, a peer event happened.
 *
 * No `node:` imports and the portable crypto provider: the same file runs under Node, Deno and
 * Bun (and in a browser with an import map).
 *   node examples/engine-custom-transport.mjs
 *   deno run --allow-read --allow-env examples/engine-custom-transport.mjs
 *   bun examples/engine-custom-transport.mjs
 */
import { Engine, formatEndpoint, hexKey, parseEndpoint } from "@wirespan/noise";
import { portableCrypto } from "@wirespan/noise/crypto/portable";
import { icmpEcho, readEcho } from "./ip-packet.mjs";

/** @typedef {import("@wirespan/noise").Action} Action */

const crypto = portableCrypto;
const keys = () => {
  const priv = crypto.randomBytes(32);
  return { priv, pub: crypto.x25519PublicKey(priv) };
};
const ka = keys();
const kb = keys();
// Endpoints are labels the transport understands; here each side names the other's port.
const atA = parseEndpoint("192.0.2.1:1");
const atB = parseEndpoint("192.0.2.2:2");

const channel = new MessageChannel();
const sides = {
  a: { engine: new Engine({ crypto }), port: channel.port1, self: atA },
  b: { engine: new Engine({ crypto }), port: channel.port2, self: atB },
};
const now = () => performance.now();
sides.a.engine.ipcSet(
  `private_key=${hexKey(ka.priv)}\npublic_key=${hexKey(kb.pub)}\n` +
    `allowed_ip=198.19.0.2/32\nendpoint=${formatEndpoint(atB)}\n`,
  now(),
  [],
);
sides.b.engine.ipcSet(
  `private_key=${hexKey(kb.priv)}\npublic_key=${hexKey(ka.pub)}\nallowed_ip=198.19.0.1/32\n`,
  now(),
  [],
);

let delivered = /** @type {((p: Uint8Array) => void) | null} */ (null);
/** @param {typeof sides.a} side @param {Action[]} out */
function perform(side, out) {
  for (const a of out.splice(0)) {
    if (a.kind === "send")
      side.port.postMessage(a.data.slice()); // the engine owns a.data
    else if (a.kind === "deliver" && side === sides.b) delivered?.(a.data.slice());
    else if (a.kind === "event") console.log(`${side === sides.a ? "A" : "B"}: ${a.event.type}`);
  }
}
for (const side of [sides.a, sides.b]) {
  const from = side === sides.a ? atB : atA;
  // MessagePort's web API (Node's types describe only its EventEmitter side).
  /** @type {{ onmessage: (ev: { data: ArrayBuffer }) => void }} */ (
    /** @type {unknown} */ (side.port)
  ).onmessage = (ev) => {
    const out = /** @type {Action[]} */ ([]);
    side.engine.handleDatagram(new Uint8Array(ev.data), from, now(), out);
    perform(side, out);
  };
}

const arrived = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("nothing delivered within 10 s")), 10_000);
  delivered = (p) => {
    clearTimeout(timer);
    resolve(p);
  };
});
// The first packet to B is staged behind a handshake initiation, then sent once it completes.
const out = /** @type {Action[]} */ ([]);
sides.a.engine.handleOutbound(
  icmpEcho({ src: "198.19.0.1", dst: "198.19.0.2", id: 1, seq: 1 }),
  now(),
  out,
);
perform(sides.a, out);

try {
  const packet = /** @type {Uint8Array} */ (await arrived);
  const echo = readEcho(packet);
  if (echo?.src !== "198.19.0.1") throw new Error("B received something else");
  console.log(`handshake complete; B received ${packet.length}-byte echo request from ${echo.src}`);
} finally {
  channel.port1.close();
  channel.port2.close();
}
