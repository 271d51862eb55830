/**
 * Services on the Linux kernel's TCP/IP inside the far namespace, for netstack-kernel.test.ts.
 * Prints "ready" when listening, and one JSON line per event a test waits for.
 *   TCP 5001 sink: reads to EOF, answers the SHA-256 of what it got, closes.
 *   TCP 5002 source: reads "<bytes> <seed>\n", sends that stream and ends (FIN first), keeps
 *            reading; prints {"event":"source-after-fin","bytes":N} when the client ends.
 *   TCP 5004 reset: sends 256 KiB, then resets the connection.
 *   TCP 7 / UDP 7 echo; TCP 80 HTTP; UDP 53 DNS (svc.wirespan.test → 198.19.0.1, fd00:19::1).
 */

import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import dnsPacket from "dns-packet";
import { streamChunks } from "./stream-data.js";

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const quiet = (s: Socket) => s.on("error", () => {});

const listening: Promise<void>[] = [];
function tcp(port: number, handler: (s: Socket) => void, allowHalfOpen = true) {
  const srv = createServer({ allowHalfOpen }, (s) => {
    quiet(s);
    handler(s);
  });
  listening.push(new Promise((r) => srv.listen({ port, host: "::", backlog: 4096 }, r)));
}

tcp(5001, (s) => {
  const h = createHash("sha256");
  s.on("data", (d) => h.update(d));
  s.on("end", () => s.end(h.digest("hex")));
});

tcp(5002, (s) => {
  let line = "";
  let after = -1;
  s.on("data", (d: Buffer) => {
    if (after >= 0) {
      after += d.length;
      return;
    }
    line += d.toString();
    const nl = line.indexOf("\n");
    if (nl < 0) return;
    const [bytes, seed] = line.slice(0, nl).split(" ");
    after = Buffer.byteLength(line.slice(nl + 1));
    const chunks = streamChunks(seed, Number(bytes));
    const pump = () => {
      for (let c = chunks.next(); !c.done; c = chunks.next())
        if (!s.write(c.value)) return void s.once("drain", pump);
      s.end();
    };
    pump();
  });
  s.on("end", () => say({ event: "source-after-fin", bytes: after }));
});

tcp(5004, (s) => {
  s.write(Buffer.alloc(256 << 10, 7), () => setTimeout(() => s.resetAndDestroy(), 20));
});

tcp(7, (s) => s.pipe(s), false);

const http = createHttpServer((req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end(`kernel says hello to ${req.socket.remoteAddress} for ${req.url}`);
});
listening.push(new Promise((r) => http.listen({ port: 80, host: "::" }, r)));

for (const type of ["udp4", "udp6"] as const) {
  const echo = createSocket({ type, ipv6Only: type === "udp6" });
  echo.on("message", (m, ri) => echo.send(m, ri.port, ri.address));
  listening.push(new Promise((r) => echo.bind(7, r)));
  const dns = createSocket({ type, ipv6Only: type === "udp6" });
  dns.on("message", (m, ri) => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(m);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    const answers: dnsPacket.Answer[] = [];
    if (question?.name === "svc.wirespan.test" && question.type === "A")
      answers.push({ type: "A", name: question.name, ttl: 5, data: "198.19.0.1" });
    if (question?.name === "svc.wirespan.test" && question.type === "AAAA")
      answers.push({ type: "AAAA", name: question.name, ttl: 5, data: "fd00:19::1" });
    dns.send(
      dnsPacket.encode({
        type: "response",
        id: q.id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: q.questions,
        answers,
      }),
      ri.port,
      ri.address,
    );
  });
  listening.push(new Promise((r) => dns.bind(53, r)));
}

await Promise.all(listening);
say({ event: "ready" });
