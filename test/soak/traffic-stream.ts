/**
 * The soak's TCP stream, run inside node namespaces between KubeSpan addresses:
 *
 *   server PORT                  counts what arrives, acks the total each second, prints
 *                                `rx BYTES` when it grew
 *   client HOST PORT BYTES/S     sends marked lines at a steady rate; reconnects after an error
 *                                or 15 s without an ack (a peer restarted under it)
 *
 * Every line carries {@link StreamMarker}, so a capture on the underlay that ever sees it has
 * seen this traffic in clear. The rate is low on purpose: this is load that never stops, not a
 * throughput test, on a machine where the daemons share two cores.
 */
import { connect, createServer, type Socket } from "node:net";
import { pathToFileURL } from "node:url";

export const StreamMarker = "WSSOAK-TCP";
const TickMs = 50;
const AckTimeoutMs = 15_000;
const ConnectTimeoutMs = 5_000;
/** Bytes allowed to wait in the socket while the peer is away (no unbounded buffering). */
const MaxQueued = 256 * 1024;

function server(port: number): void {
  let total = 0;
  let printed = 0;
  createServer((sock: Socket) => {
    sock.on("data", (d: Buffer) => {
      total += d.length;
    });
    const ack = setInterval(() => sock.write(`ack ${total}\n`), 1_000);
    sock.on("close", () => clearInterval(ack));
    sock.on("error", () => {});
  }).listen(port, "::");
  setInterval(() => {
    if (total !== printed) console.log(`rx ${total}`);
    printed = total;
  }, 1_000);
}

function client(host: string, port: number, rate: number): void {
  const size = Math.max(64, Math.round((rate * TickMs) / 1000));
  let seq = 0;
  const line = () => {
    const head = `${StreamMarker} seq=${seq++} `;
    return `${head}${"x".repeat(Math.max(0, size - head.length - 1))}\n`;
  };
  const attempt = () => {
    const sock = connect({ host, port });
    let lastAck = performance.now();
    let tick: NodeJS.Timeout | undefined;
    let done = false;
    const retry = () => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      clearInterval(tick);
      sock.destroy();
      setTimeout(attempt, 1_000);
    };
    // Without a limit a connect() begun while the path is cut waits out SYN backoff (up to
    // ~2 min), long after the mesh has healed.
    const giveUp = setTimeout(() => {
      console.log("no connection in 5 s, retrying");
      retry();
    }, ConnectTimeoutMs);
    sock.once("connect", () => {
      clearTimeout(giveUp);
      console.log("connected");
      lastAck = performance.now();
      tick = setInterval(() => {
        if (performance.now() - lastAck > AckTimeoutMs) {
          console.log("no ack for 15 s, reconnecting");
          return retry();
        }
        if (sock.writableLength < MaxQueued) sock.write(line());
      }, TickMs);
    });
    sock.on("data", () => {
      lastAck = performance.now();
    });
    sock.on("error", retry);
    sock.on("close", retry);
  };
  attempt();
}

// Run as a program (not when imported for StreamMarker).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === "server") server(Number(rest[0]));
  else if (mode === "client") client(rest[0], Number(rest[1]), Number(rest[2]));
  else {
    console.error("usage: traffic-stream server PORT | client HOST PORT BYTES_PER_S");
    process.exit(2);
  }
}
