/**
 * Small network programs the proxy interop test runs inside its namespaces (plain JS: nothing to
 * compile, runs as any user):
 *   echo HOST PORT               TCP echo server (half-close aware)
 *   http HOST PORT               HTTP origin answering "hello from HOST" to every request
 *   udp-echo HOST PORT           UDP echo server answering "echo:" + payload
 *   dns HOST PORT NAME IP        DNS server answering NAME A IP, NXDOMAIN otherwise
 *   bulk HOST PORT BYTES         TCP client: sends BYTES of a deterministic pattern, half-closes,
 *                                reads the echo; prints {"sent":…,"received":…,"sentSha":…,"receivedSha":…,"ms":…}
 *   sink HOST PORT               TCP server: reads to the end, answers the byte count, closes
 *   send HOST PORT BYTES [SOCKSPORT]
 *                                TCP client (through SOCKS5 on 127.0.0.1:SOCKSPORT when given):
 *                                sends BYTES, half-closes, waits for the count; prints {"bytes":…,"ms":…}
 *   hold PROXYPORT HOST PORT N   N SOCKS5 CONNECTs to HOST:PORT, each echoing 1 KiB, then held
 *                                open until stdin closes; prints "held N"
 *   socks-udp PROXYPORT HOST PORT TEXT
 *                                SOCKS5 UDP ASSOCIATE via 127.0.0.1:PROXYPORT, one datagram
 *                                to HOST:PORT; prints the payload of the answer
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer } from "node:net";

const [mode, ...args] = process.argv.slice(2);

function ready(what) {
  process.stdout.write(`ready ${what}\n`);
}

if (mode === "echo") {
  const [host, port] = args;
  createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  }).listen(Number(port), host, () => ready("echo"));
} else if (mode === "http") {
  const [host, port] = args;
  createHttpServer((req, res) => res.end(`hello from ${host} ${req.method} ${req.url}\n`)).listen(
    Number(port),
    host,
    () => ready("http"),
  );
} else if (mode === "udp-echo") {
  const [host, port] = args;
  const s = createSocket(host.includes(":") ? "udp6" : "udp4");
  s.on("message", (m, r) => s.send(Buffer.concat([Buffer.from("echo:"), m]), r.port, r.address));
  s.bind(Number(port), host, () => ready("udp-echo"));
} else if (mode === "dns") {
  const [host, port, name, ip] = args;
  const s = createSocket("udp4");
  s.on("message", (q, r) => {
    if (q.length < 17) return;
    // RFC 1035 §4.1: header, then the question's labels, QTYPE, QCLASS.
    let off = 12;
    const labels = [];
    while (off < q.length && q[off] !== 0) {
      labels.push(q.subarray(off + 1, off + 1 + q[off]).toString());
      off += 1 + q[off];
    }
    const qEnd = off + 5;
    if (qEnd > q.length) return;
    const qtype = q.readUInt16BE(off + 1);
    const match = labels.join(".").toLowerCase() === name.toLowerCase();
    const answer = match && qtype === 1;
    const head = Buffer.from(q.subarray(0, 12));
    head[2] = 0x81; // QR, RD
    head[3] = match ? 0x80 : 0x83; // RA, NOERROR or NXDOMAIN
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answer ? 1 : 0, 6);
    head.writeUInt16BE(0, 8);
    head.writeUInt16BE(0, 10);
    const parts = [head, q.subarray(12, qEnd)];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      for (const [i, o] of ip.split(".").entries()) rr.writeUInt8(Number(o), 12 + i);
      parts.push(rr);
    }
    s.send(Buffer.concat(parts), r.port, r.address);
  });
  s.bind(Number(port), host, () => ready("dns"));
} else if (mode === "bulk") {
  const [host, port, bytes] = args;
  const total = Number(bytes);
  const sentHash = createHash("sha256");
  const gotHash = createHash("sha256");
  let received = 0;
  const t0 = Date.now();
  const c = connect({ host, port: Number(port), allowHalfOpen: true });
  c.on("error", (e) => {
    process.stderr.write(`bulk: ${e.message}\n`);
    process.exit(1);
  });
  c.on("data", (d) => {
    gotHash.update(d);
    received += d.length;
  });
  c.on("end", () => {
    process.stdout.write(
      `${JSON.stringify({ sent: total, received, sentSha: sentHash.digest("hex"), receivedSha: gotHash.digest("hex"), ms: Date.now() - t0 })}\n`,
    );
    c.destroy();
  });
  c.on("connect", async () => {
    const chunk = Buffer.alloc(64 * 1024);
    for (let off = 0; off < total; off += chunk.length) {
      const n = Math.min(chunk.length, total - off);
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE((off + i) >>> 0, i);
      const piece = chunk.subarray(0, n);
      sentHash.update(piece);
      if (!c.write(Buffer.from(piece))) await new Promise((r) => c.once("drain", r));
    }
    c.end();
  });
} else if (mode === "sink") {
  const [host, port] = args;
  createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on("error", () => {});
    s.on("data", (d) => {
      n += d.length;
    });
    s.on("end", () => s.end(`${n}\n`));
  }).listen(Number(port), host, () => ready("sink"));
} else if (mode === "send") {
  const [host, port, bytes, socksPort] = args;
  const total = Number(bytes);
  const t0 = process.hrtime.bigint();
  const c = socksPort
    ? await socksConnect(Number(socksPort), host, Number(port))
    : await new Promise((resolve, reject) => {
        const s = connect({ host, port: Number(port), allowHalfOpen: true }, () => resolve(s));
        s.once("error", reject);
      });
  let answer = "";
  c.on("data", (d) => {
    answer += d;
  });
  c.on("end", () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (Number(answer.trim()) !== total) {
      process.stderr.write(`send: sink counted ${answer.trim()} of ${total}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ bytes: total, ms })}\n`);
    c.destroy();
  });
  const chunk = Buffer.alloc(128 * 1024, 7);
  for (let off = 0; off < total; off += chunk.length) {
    if (!c.write(chunk.subarray(0, Math.min(chunk.length, total - off))))
      await new Promise((r) => c.once("drain", r));
  }
  c.end();
} else if (mode === "hold") {
  const [proxyPort, host, port, n] = args;
  const socks = [];
  for (let i = 0; i < Number(n); i++) {
    const s = await socksConnect(Number(proxyPort), host, Number(port));
    await new Promise((resolve) => {
      let got = 0;
      s.on("data", (d) => {
        got += d.length;
        if (got >= 1024) resolve();
      });
      s.write(Buffer.alloc(1024, 1));
    });
    socks.push(s);
  }
  process.stdout.write(`held ${socks.length}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
} else if (mode === "socks-udp") {
  const [proxyPort, host, port, text] = args;
  const c = connect({ host: "127.0.0.1", port: Number(proxyPort) });
  let buf = Buffer.alloc(0);
  c.on("error", (e) => {
    process.stderr.write(`socks-udp: ${e.message}\n`);
    process.exit(1);
  });
  c.write(Buffer.from([5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  c.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 12) return;
    if (buf[0] !== 5 || buf[1] !== 0 || buf[3] !== 0 || buf[5] !== 1) {
      process.stderr.write(`socks-udp: refused ${[...buf].join(",")}\n`);
      process.exit(1);
    }
    const relayPort = buf.readUInt16BE(10);
    c.removeAllListeners("data");
    const u = createSocket("udp4");
    const o = host.split(".").map(Number);
    const msg = Buffer.concat([
      Buffer.from([0, 0, 0, 1, ...o, Number(port) >> 8, Number(port) & 255]),
      Buffer.from(text),
    ]);
    u.on("message", (m) => {
      process.stdout.write(`${m.subarray(10).toString()}\n`);
      process.exit(0);
    });
    const send = () => u.send(msg, relayPort, "127.0.0.1");
    // UDP may be lost while the tunnel's first handshake completes: resend until answered.
    send();
    setInterval(send, 500).unref();
    setTimeout(() => process.exit(2), 15_000);
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

/** A SOCKS5 CONNECT (no auth) through 127.0.0.1:proxyPort to an IPv4 host; resolves with the stream. */
function socksConnect(proxyPort, host, port) {
  return new Promise((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port: proxyPort, allowHalfOpen: true });
    c.once("error", reject);
    const o = host.split(".").map(Number);
    c.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, ...o, port >> 8, port & 255]));
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 12) return;
      c.off("data", onData);
      if (buf[3] !== 0) return reject(new Error(`SOCKS5 reply ${buf[3]}`));
      // Nothing follows the reply until the client sends: the target speaks second here.
      resolve(c);
    };
    c.on("data", onData);
  });
}
