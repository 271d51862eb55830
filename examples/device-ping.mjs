// @ts-check
/**
 * A WireGuard device inside a program: two Devices, each on an in-memory TUN (MemoryTun), talk
 * WireGuard over real UDP on loopback. A's "operating system" sends an ICMP echo request into its
 * TUN; it is sealed, handshaken for, sent, opened by B and written to B's TUN, whose "operating
 * system" answers; the reply comes back the same way.
 *
 * Run from an install of @wirespan/mesh (or the workspace after `pnpm build`):
 *   node examples/device-ping.mjs
 */
import { Device, UdpBind } from "@wirespan/mesh";
import { hexKey } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";
import { icmpEcho, readEcho } from "./ip-packet.mjs";

const A = "198.19.0.1";
const B = "198.19.0.2";
const keys = () => {
  const priv = nodeCrypto.randomBytes(32);
  return { priv: hexKey(priv), pub: hexKey(nodeCrypto.x25519PublicKey(priv)) };
};
const ka = keys();
const kb = keys();

// listenPort 0: any free port on 127.0.0.1 (a real device would use 51820 on all addresses).
const loopback = () => new UdpBind({ host: "127.0.0.1", family: 4 });
const tunA = new MemoryTun("wsa");
const tunB = new MemoryTun("wsb");
const a = await Device.create({ tun: tunA, bind: loopback(), listenPort: 0 });
const b = await Device.create({ tun: tunB, bind: loopback(), listenPort: 0 });

// Configuration is the WireGuard UAPI text, exactly what `wg set` sends.
await a.ipcSet(
  `private_key=${ka.priv}\npublic_key=${kb.pub}\nallowed_ip=${B}/32\n` +
    `endpoint=127.0.0.1:${b.listenPort}\n`,
);
await b.ipcSet(`private_key=${kb.priv}\npublic_key=${ka.pub}\nallowed_ip=${A}/32\n`);

// B's "kernel" answers echo requests that come out of its TUN.
tunB.onWrite((packets) => {
  for (const p of packets) {
    const e = readEcho(p);
    if (e && !e.reply) tunB.inject([icmpEcho({ ...e, src: e.dst, dst: e.src, reply: true })]);
  }
});

const t0 = performance.now();
const reply = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no echo reply within 10 s")), 10_000);
  tunA.onWrite((packets) => {
    for (const p of packets) {
      const e = readEcho(p);
      if (e?.reply && e.src === B && e.id === 7) {
        clearTimeout(timer);
        resolve(e);
      }
    }
  });
});
tunA.inject([icmpEcho({ src: A, dst: B, id: 7, seq: 1 })]);

try {
  await reply;
  const [peer] = a.peers();
  console.log(
    `ping ${B}: echo reply in ${(performance.now() - t0).toFixed(1)} ms through WireGuard ` +
      `(127.0.0.1:${a.listenPort} -> 127.0.0.1:${b.listenPort}, ${peer.txBytes} bytes sent)`,
  );
} finally {
  await a.close();
  await b.close();
}
