/**
 * Runs in any JavaScript runtime (test/netstack-portable.test.ts runs it under Bun and Deno):
 * two netstack cores linked in memory with a fake clock complete a TCP exchange — 1 MiB from
 * the client, echoed back by the server — using only the portable core (no `node:` imports).
 * Prints "ok <bytes>" on success, "fail <reason>" otherwise.
 */
import { NetStack, parseIp } from "../../packages/tun/src/netstack/index.js";

const a = new NetStack({ addresses: ["198.19.9.1"] });
const b = new NetStack({ addresses: ["198.19.9.2"] });
const size = 1 << 20;
const data = new Uint8Array(size);
for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
let now = 0;

const echoed: Uint8Array[] = [];
let echoedBytes = 0;
b.tcp!.listen(null, 7, {}, (conn) => {
  conn.setEvents({
    readable: () => {
      for (let c = conn.read(); c !== null; c = conn.read()) conn.write(c);
    },
    end: () => conn.shutdownWrite(),
  });
});
const client = a.tcp!.connect(
  { address: parseIp("198.19.9.1")!, port: 0 },
  { address: parseIp("198.19.9.2")!, port: 7 },
  {},
  now,
);
let sent = 0;
const pushData = () => {
  while (sent < size) {
    const n = client.write(data.subarray(sent, Math.min(size, sent + 65536)));
    sent += n;
    if (n === 0) return;
  }
  client.shutdownWrite();
};
let done = false;
client.setEvents({
  connected: pushData,
  writable: pushData,
  readable: () => {
    for (let c = client.read(); c !== null; c = client.read()) {
      echoed.push(c.slice());
      echoedBytes += c.length;
    }
  },
  close: () => {
    done = true;
  },
  end: () => client.close(),
});

for (let step = 0; step < 200_000 && !done; step++) {
  const outA = a.takeOutput();
  const outB = b.takeOutput();
  for (const p of outA) b.input(p, now);
  for (const p of outB) a.input(p, now);
  if (outA.length === 0 && outB.length === 0) {
    const d = Math.min(
      a.nextDeadline() ?? Number.POSITIVE_INFINITY,
      b.nextDeadline() ?? Number.POSITIVE_INFINITY,
    );
    if (!Number.isFinite(d)) break;
    now = Math.max(now + 1, d);
    a.tick(now);
    b.tick(now);
  }
}

let same = echoedBytes === size;
let off = 0;
for (const c of echoed) {
  for (let i = 0; i < c.length && same; i++) if (c[i] !== data[off + i]) same = false;
  off += c.length;
}
console.log(
  same
    ? `ok ${echoedBytes}`
    : `fail echoed ${echoedBytes} of ${size} bytes${echoedBytes === size ? " (content differs)" : ""}`,
);
