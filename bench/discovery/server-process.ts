/**
 * Child process of the discovery load benchmark: one DiscoveryServer (the code under test), with
 * the per-IP rate limit lifted (every load client comes from 127.0.0.1) and room for the
 * benchmark's watchers. Tells its parent the address, then answers "stats" with its RSS, CPU
 * time, event-loop delay (since "measure") and the service's metrics.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { DiscoveryServer } from "@wirespan/mesh";

const watchers = Number(process.env.BENCH_WATCHERS_MAX ?? 20_000);
const server = await DiscoveryServer.start({
  listen: "127.0.0.1:0",
  limits: {
    rateLimitPerSecond: 1e9,
    rateLimitBurst: 1e9,
    watchersMax: watchers,
  },
});

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

process.on("message", (msg: { type: string }) => {
  if (msg.type === "measure") loop.reset();
  else if (msg.type === "gc") (globalThis as { gc?: () => void }).gc?.();
  else if (msg.type === "stats") {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    process.send?.({
      type: "stats",
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
      cpuMicros: cpu.user + cpu.system,
      metrics: server.metrics(),
    });
  } else if (msg.type === "stop") {
    void server.close().then(() => process.exit(0));
  }
});
process.send?.({ type: "ready", address: server.address });
