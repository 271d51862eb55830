/**
 * A UDP relay between two WireGuard endpoints that reorders and duplicates datagrams (this
 * kernel has no tc netem): `udp-relay.ts LISTEN_PORT TARGET_HOST TARGET_PORT DUP% REORDER%`.
 * A held datagram goes out right after the next one in its direction (or after 5 ms).
 */
import { createSocket, type Socket } from "node:dgram";

const [listenPort, targetHost, targetPort, dupPct, reorderPct] = process.argv.slice(2);
const dup = Number(dupPct) / 100;
const reorder = Number(reorderPct) / 100;
const front = createSocket("udp4");
const back = createSocket("udp4");
let client: { address: string; port: number } | null = null;

function direction(out: Socket, to: () => { address: string; port: number } | null) {
  let held: Buffer | null = null;
  let timer: NodeJS.Timeout | null = null;
  const send = (m: Buffer) => {
    const t = to();
    if (t) out.send(m, t.port, t.address);
  };
  const release = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const h = held;
    held = null;
    if (h) send(h);
  };
  return (m: Buffer) => {
    if (held === null && Math.random() < reorder) {
      held = m;
      timer = setTimeout(release, 5);
      return;
    }
    send(m);
    if (Math.random() < dup) send(m);
    release();
  };
}

const toBack = direction(back, () => ({ address: targetHost, port: Number(targetPort) }));
const toFront = direction(front, () => client);
front.on("message", (m, ri) => {
  client = { address: ri.address, port: ri.port };
  toBack(m);
});
back.on("message", (m) => toFront(m));
front.bind(Number(listenPort), () => back.bind(0, () => process.stdout.write("ready\n")));
