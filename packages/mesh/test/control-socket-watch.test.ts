/**
 * `wirespan get --watch` on the control socket: a client that never reads must not make the
 * node queue every change (memory grows without bound); once it reads again it gets the
 * latest rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ControlServer } from "../src/kubespan/control-socket.js";
import type { ResourceRow } from "../src/kubespan/resources.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

describe("control socket --watch", () => {
  it("keeps at most about one answer queued for a client that does not read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wsc-watch-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let version = 0;
    const listeners = new Set<() => void>();
    // ~64 KiB of rows per answer, different on every change.
    const rows = (): ResourceRow[] =>
      Array.from({ length: 64 }, (_, i) => ({
        id: `peer-${i}`,
        version,
        spec: { pad: "x".repeat(1000) },
      }));
    const server = await ControlServer.listen(join(dir, "c.sock"), {
      rows,
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    });
    cleanups.push(() => server.close());

    const client: Socket = connect(server.path);
    cleanups.push(() => {
      client.destroy();
    });
    await new Promise((r) => client.once("connect", r));
    client.write(`${JSON.stringify({ kind: "peerstatuses", watch: true })}\n`);
    client.pause(); // never reads
    while (listeners.size === 0) await new Promise((r) => setTimeout(r, 10));

    const conns = (server as unknown as { connections: Set<Socket> }).connections;
    let maxQueued = 0;
    for (let i = 0; i < 500; i++) {
      version++;
      for (const l of listeners) l();
      for (const c of conns) maxQueued = Math.max(maxQueued, c.writableLength);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    // 500 changes × 64 KiB would be 32 MiB; one answer past the high-water mark is the bound.
    const answer = JSON.stringify({ rows: rows() }).length;
    expect(maxQueued).toBeLessThan(2 * answer + 64 * 1024);

    // Reading again delivers the latest state.
    let text = "";
    client.setEncoding("utf8");
    client.on("data", (d: string) => {
      text += d;
    });
    client.resume();
    const last = () => {
      const lines = text.split("\n").filter((l) => l.length > 0);
      return lines.length === 0 ? -1 : (JSON.parse(lines.at(-1)!).rows[0].version as number);
    };
    const end = Date.now() + 5_000;
    while (last() !== version && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(last()).toBe(version);
  });
});
