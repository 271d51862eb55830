/** Two Devices on NetstackTuns peered over loopback UDP, for in-process netstack tests. */
import { Device } from "@wirespan/mesh";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { NetstackTun, type NetstackTunOptions } from "@wirespan/tun/netstack/node";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function keypair() {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: hex(sk), pk: hex(nodeCrypto.x25519PublicKey(sk)) };
}

export interface NetstackPair {
  a: NetstackTun;
  b: NetstackTun;
  close(): Promise<void>;
}

/** Two netstack Devices peered over loopback: a = 198.19.7.1/fd00:19:7::1, b = .2/::2 (b is a's DNS server). */
export async function netstackPair(tcp?: NetstackTunOptions["tcp"]): Promise<NetstackPair> {
  const a = new NetstackTun({
    addresses: ["198.19.7.1/24", "fd00:19:7::1/64"],
    dns: ["198.19.7.2"],
    tcp,
  });
  const b = new NetstackTun({ addresses: ["198.19.7.2/24", "fd00:19:7::2/64"], tcp });
  const ka = keypair();
  const kb = keypair();
  const da = await Device.create({ tun: a, listenPort: 0 });
  const db = await Device.create({ tun: b, listenPort: 0 });
  await da.ipcSet(
    `set=1\nprivate_key=${ka.sk}\npublic_key=${kb.pk}\nendpoint=127.0.0.1:${db.listenPort}\nallowed_ip=198.19.7.2/32\nallowed_ip=fd00:19:7::2/128\n\n`,
  );
  await db.ipcSet(
    `set=1\nprivate_key=${kb.sk}\npublic_key=${ka.pk}\nendpoint=127.0.0.1:${da.listenPort}\nallowed_ip=198.19.7.1/32\nallowed_ip=fd00:19:7::1/128\n\n`,
  );
  return {
    a,
    b,
    close: async () => {
      await da.close();
      await db.close();
    },
  };
}
