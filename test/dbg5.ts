import { Device } from "@wirespan/mesh";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { MemoryTun } from "@wirespan/tun";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const kp = () => {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: hex(sk), pk: hex(nodeCrypto.x25519PublicKey(sk)) };
};
const log = {
  verbose: (m: string) => console.log("V", m),
  error: (m: string) => console.log("E", m),
} as never;
const ta = new MemoryTun(),
  tb = new MemoryTun();
const da = await Device.create({ tun: ta, listenPort: 0, logger: log });
const db = await Device.create({ tun: tb, listenPort: 0, logger: log });
const ka = kp(),
  kb = kp();
console.log(
  await da.ipcSet(
    `set=1\nprivate_key=${ka.sk}\npublic_key=${kb.pk}\nendpoint=127.0.0.1:${db.listenPort}\nallowed_ip=198.19.7.2/32\n\n`,
  ),
);
console.log(
  await db.ipcSet(
    `set=1\nprivate_key=${kb.sk}\npublic_key=${ka.pk}\nendpoint=127.0.0.1:${da.listenPort}\nallowed_ip=198.19.7.1/32\n\n`,
  ),
);
const p = new Uint8Array(28);
p[0] = 0x45;
p[3] = 28;
p[9] = 17;
p.set([198, 19, 7, 1], 12);
p.set([198, 19, 7, 2], 16);
ta.inject([p]);
setTimeout(async () => {
  console.log(tb.written.length, da.errors, db.errors, da.listenPort, db.listenPort);
  await da.close();
  await db.close();
}, 2000);
