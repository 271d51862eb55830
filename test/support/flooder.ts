/**
 * A handshake flooder, run by the line-rate flood benchmark (inside the attacker's namespace) and by test/flood-loopback.test.ts
 * (issue #11): as many handshake initiations per second as one process can send, through the
 * batched-UDP addon (sendmmsg, no GSO: every datagram is its own packet, as an attacker's are),
 * round-robin over many sockets (source ports) and source addresses.
 *
 *   node --import tsx test/support/flooder.ts <target ip> <port> <responder pubkey hex>
 *        <valid|garbage> <seconds> <sockets per source> <source ip>...
 *
 * valid: initiations with random contents and a correct mac1 for the responder (whitepaper
 * §5.4.4), mac2 zero — they pass mac1 and cost the responder a cookie reply or a DH. garbage:
 * the initiation's type and length with random bytes (mac1 invalid). Prints one JSON line:
 * { sent, seconds, rate }.
 */

import { nodeCrypto as c } from "@wirespan/noise/crypto/node";
import { LABEL_MAC1, MESSAGE_INITIATION_SIZE } from "@wirespan/noise/internal";
import { nativeUdp } from "@wirespan/tun/internal";

const [target, portText, pubHex, mode, secondsText, perSourceText, ...sources] =
  process.argv.slice(2);
const addon = nativeUdp();
if (addon === null) throw new Error("the flooder needs the native addon");
const seconds = Number(secondsText);
const perSource = Number(perSourceText);

const MAC = 16;
const POOL = 1024;
const BURST = 256;
const mac1Key = c.hash(LABEL_MAC1, Uint8Array.from(Buffer.from(pubHex, "hex")));
const pool: Uint8Array[] = [];
for (let i = 0; i < POOL; i++) {
  const m = c.randomBytes(MESSAGE_INITIATION_SIZE);
  m.set([1, 0, 0, 0]);
  const m1 = MESSAGE_INITIATION_SIZE - 2 * MAC;
  if (mode === "valid") m.set(c.mac(mac1Key, m.subarray(0, m1)), m1);
  m.fill(0, m1 + MAC);
  pool.push(m);
}

const rec = new Uint8Array(20);
rec[0] = 4;
rec[2] = Number(portText) >> 8;
rec[3] = Number(portText) & 0xff;
rec.set(target.split(".").map(Number), 4);

const pollers = [];
for (const src of sources) {
  for (let k = 0; k < perSource; k++) {
    const [fd] = addon.openUdp(4, 0, src, false, 4 << 20);
    const p = new addon.UdpPoller(
      fd,
      4,
      new ArrayBuffer(64 + 4 * 256),
      64,
      1,
      new Int32Array(20),
      new Uint8Array(100),
      () => {},
      4,
    );
    p.setGso(false);
    pollers.push(p);
  }
}

const start = performance.now();
const end = start + seconds * 1000;
let sent = 0;
let off = 0;
for (let i = 0; performance.now() < end; i++) {
  const p = pollers[i % pollers.length];
  sent += p.send(pool, off, BURST, rec);
  off = (off + BURST) % POOL;
}
const elapsed = (performance.now() - start) / 1000;
for (const p of pollers) p.close();
process.stdout.write(`${JSON.stringify({ sent, seconds: elapsed, rate: sent / elapsed })}\n`);
