/**
 * The netstack side of netstack-kernel.test.ts: a Device on a NetstackTun in a process that has
 * no capabilities and runs as `nobody` (started through setpriv), so it cannot open
 * /dev/net/tun. Reads one JSON command per stdin line, answers one JSON line per command.
 *
 * With AGENT_NET=kernel the same operations use node:net instead (bench/netstack.ts compares
 * the netstack with a TUN Device through the kernel's stack, same client code).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { Session } from "node:inspector/promises";
import { connect as netConnect } from "node:net";
import { createInterface } from "node:readline";
import type { Duplex } from "node:stream";
import { Device } from "@wirespan/mesh";
import { openLinuxTun } from "@wirespan/tun";
import { NetstackTun } from "@wirespan/tun/netstack/node";
import { Agent, fetch } from "undici";
import { streamChunks } from "./stream-data.js";

type Args = Record<string, unknown>;
let profiler: Session | null = null;

const KERNEL = process.env.AGENT_NET === "kernel";
const stack = new NetstackTun({
  addresses: ["198.19.0.2/24", "fd00:19::2/64"],
  dns: ["198.19.0.1"],
  // TCP tuning under comparison (bench/netstack.ts --variant).
  tcp: process.env.AGENT_TCP ? JSON.parse(process.env.AGENT_TCP) : undefined,
});
const device = KERNEL ? null : await Device.create({ tun: stack, listenPort: 0 });

/** connect() on the netstack, or on the kernel's stack in kernel mode. */
function dial(opts: {
  host: string;
  port: number;
  allowHalfOpen?: boolean;
}): Duplex & { setNoDelay?(b: boolean): unknown } {
  if (!KERNEL) return stack.connect(opts);
  const s = netConnect(opts);
  s.setNoDelay(true);
  return s;
}

function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
}

function connected(host: string, port: number) {
  const s = dial({ host, port });
  return new Promise<typeof s>((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

async function writeAll(s: NodeJS.WritableStream, chunks: Iterable<Buffer>): Promise<void> {
  for (const c of chunks) if (!s.write(c)) await new Promise((r) => s.once("drain", r));
}

const ops: Record<string, (a: Args) => Promise<unknown>> = {
  async info() {
    // What a TUN-based Device would need: creating an interface (CAP_NET_ADMIN).
    let tun = "opened";
    try {
      await (await openLinuxTun({ name: "wsnprobe0" })).close();
    } catch (err) {
      tun = (err as { code?: string }).code ?? String(err);
    }
    const status = readFileSync("/proc/self/status", "utf8");
    const capEff = /CapEff:\s*(\S+)/.exec(status)?.[1];
    return { uid: process.getuid?.(), capEff, tun, listenPort: device?.listenPort };
  },
  async ipcSet(a) {
    return device?.ipcSet(String(a.text));
  },
  /** Opens `count` connections to the echo port and keeps them idle; RSS before and after. */
  async idle(a) {
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const conns: Duplex[] = [];
    let error: string | null = null;
    for (let left = Number(a.count); left > 0 && error === null; left -= 200) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(200, left) }, () => connected(String(a.host), 7)),
      );
      for (const r of batch) {
        if (r.status === "fulfilled") conns.push(r.value);
        else error = String((r.reason as Error).message);
      }
    }
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    globalThis.gc?.();
    const after = process.memoryUsage().rss;
    idleConns.push(...conns);
    return { before, after, ms, opened: conns.length, error };
  },
  async closeIdle() {
    for (const c of idleConns.splice(0)) c.destroy();
    return true;
  },
  /** Sequential open → 1 byte echoed → close, `count` times: connections per second. */
  async rate(a) {
    const t0 = performance.now();
    for (let i = 0; i < Number(a.count); i++) {
      const s = await connected(String(a.host), 7);
      const got = collect(s);
      s.end("x");
      await got;
    }
    return { perSecond: (Number(a.count) * 1000) / (performance.now() - t0) };
  },
  async ping(a) {
    return stack.ping(String(a.address), { timeout: 5000 });
  },
  /** Sends a stream to the sink; the kernel's SHA must equal ours. */
  async upload(a) {
    const t0 = performance.now();
    const s = await connected(String(a.host), 5001);
    const reply = collect(s);
    await writeAll(s, streamChunks(String(a.seed), Number(a.bytes)));
    s.end();
    const sha = (await reply).toString();
    return { sha, ms: performance.now() - t0 };
  },
  /** Asks the source for a stream, hashes it; then writes after the server's FIN (half-close). */
  async download(a) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const s = dial({ host: String(a.host), port: 5002, allowHalfOpen: true });
    const h = createHash("sha256");
    let n = 0;
    s.on("data", (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    await new Promise<void>((resolve, reject) => {
      s.once("end", resolve);
      s.once("error", reject);
      s.write(`${a.bytes} ${a.seed}\n`);
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    // The server has half-closed; our side still sends.
    await new Promise<void>((r) => s.end(Buffer.alloc(Number(a.after ?? 0), 1), r));
    // This process's CPU time for the transfer (bench: the netstack's cost per byte received).
    return { sha: h.digest("hex"), bytes: n, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
  async connectError(a) {
    try {
      const s = await connected(String(a.host), Number(a.port));
      await collect(s);
      return { code: null };
    } catch (err) {
      return { code: (err as NodeJS.ErrnoException).code };
    }
  },
  async many(a) {
    const count = Number(a.count);
    const payload = randomBytes(1000);
    const one = async () => {
      const s = await connected(String(a.host), 7);
      const got = collect(s);
      s.end(payload);
      return (await got).equals(payload);
    };
    const results = await Promise.allSettled(Array.from({ length: count }, one));
    const ok = results.filter((r) => r.status === "fulfilled" && r.value).length;
    const errors = [
      ...new Set(
        results.flatMap((r) =>
          r.status === "rejected" ? [String((r.reason as Error).message)] : [],
        ),
      ),
    ];
    return { ok, errors };
  },
  async fetch(a) {
    const agent = new Agent({
      connect: (opts, cb) => {
        const s = stack.connect({ host: opts.hostname, port: Number(opts.port) || 80 });
        s.once("connect", () => cb(null, s as never));
        s.once("error", (e) => cb(e, null));
      },
    });
    const res = await fetch(String(a.url), { dispatcher: agent });
    const body = await res.text();
    await agent.close();
    return { status: res.status, body };
  },
  async udpEcho(a) {
    const sock = stack.createSocket(String(a.host).includes(":") ? "udp6" : "udp4");
    const got = new Promise<string>((resolve, reject) => {
      sock.once("message", (m) => resolve(m.toString()));
      setTimeout(() => reject(new Error("no UDP echo")), 5000);
    });
    sock.send(String(a.data), 7, String(a.host));
    try {
      return await got;
    } finally {
      sock.close();
    }
  },
  async lookup(a) {
    return stack.lookup(String(a.name));
  },
  /** UDP echo on port 7 and an HTTP server on 8080 inside the netstack, for the kernel to reach. */
  async serve() {
    const u4 = stack.createSocket("udp4");
    u4.on("message", (m, ri) => u4.send(m, ri.port, ri.address));
    u4.bind(7);
    const u6 = stack.createSocket("udp6");
    u6.on("message", (m, ri) => u6.send(m, ri.port, ri.address));
    u6.bind(7);
    const http = createHttpServer((req, res) =>
      res.end(`netstack says hello to ${req.socket.remoteAddress}`),
    );
    stack.createServer((s) => http.emit("connection", s)).listen(8080);
    return true;
  },
  /** CPU profile of this process (bench/netstack.ts --profile): start, then stop into a file. */
  async profileStart() {
    profiler = new Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
    return true;
  },
  async profileStop(a) {
    if (profiler === null) throw new Error("no profile running");
    const { profile } = await profiler.post("Profiler.stop");
    profiler.disconnect();
    profiler = null;
    writeFileSync(String(a.file), JSON.stringify(profile));
    return true;
  },
  async counters() {
    return { ip: stack.stack.counters, tcp: stack.stack.tcp?.drops };
  },
};

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: Args };
  const f = ops[op];
  const reply = (o: object) => process.stdout.write(`${JSON.stringify({ id, ...o })}\n`);
  if (!f) return reply({ ok: false, error: `unknown op ${op}` });
  f(args ?? {}).then(
    (result) => reply({ ok: true, result }),
    (err: Error & { code?: string }) => reply({ ok: false, error: err.message, code: err.code }),
  );
});
const idleConns: Duplex[] = [];
rl.on("close", () => {
  void (device?.close() ?? Promise.resolve()).then(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
