/**
 * Fuzz of the control socket over a real unix socket: whatever bytes a local client sends, in
 * whatever chunks, it gets at most one JSON answer line (rows or an error), watch subscriptions
 * end with the connection, and the server keeps answering honest requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ControlServer,
  type ControlSource,
  controlRequest,
  controlSocketPath,
} from "../src/kubespan/control-socket.js";
import type { ResourceKind, ResourceRow } from "../src/kubespan/resources.js";
import { enc, exchange } from "./support/socket-exchange.js";

class Source implements ControlSource {
  subscribers = 0;
  rows(kind: ResourceKind): ResourceRow[] {
    return [{ id: `row-${kind}`, version: 1 } as ResourceRow];
  }
  subscribe(): () => void {
    this.subscribers++;
    let done = false;
    return () => {
      if (!done) this.subscribers--;
      done = true;
    };
  }
}

/** Fragments of requests: valid ones, near misses, JSON noise, huge lines, NULs, bad UTF-8. */
const fragment = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.string().map(enc),
  fc
    .constantFrom(
      '{"kind":"peerstatuses"}\n',
      '{"kind":"peerstatuses","watch":true}\n',
      '{"kind":"identities","showSecrets":true}\n',
      '{"kind":"nope"}\n',
      '{"kind":["peerstatuses"]}\n',
      '{"__proto__":{"kind":"peerstatuses"}}\n',
      "null\n",
      "[]\n",
      '"peerstatuses"\n',
      "1e999\n",
      "{\n",
      "\n",
      "\u0000\n",
      "\r\n",
    )
    .map(enc),
  fc.constant(new Uint8Array([0xff, 0xfe, 0xc3, 0x28, 0x0a])),
  fc.constant(new Uint8Array(5000).fill(0x61)),
  fc.constant(new Uint8Array(70_000).fill(0x7b)),
);

describe("control socket fuzz", () => {
  let dir: string;
  let server: ControlServer;
  const source = new Source();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wsf-ctl-"));
    server = await ControlServer.listen(controlSocketPath(dir), source);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function stillServes(): Promise<void> {
    const rows = await controlRequest(server.path, { kind: "peerspecs" });
    expect(rows).toEqual([{ id: "row-peerspecs", version: 1 }]);
  }

  it("any byte stream: at most one JSON answer per request line, and the server serves on", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fragment, { maxLength: 8 }),
        fc.boolean(),
        async (chunks, halfClose) => {
          const out = await exchange(server.path, chunks, halfClose);
          const lines = out.split("\n").filter((l) => l !== "");
          for (const line of lines) {
            const msg = JSON.parse(line) as { rows?: unknown; error?: unknown };
            expect(typeof msg.error === "string" || Array.isArray(msg.rows)).toBe(true);
          }
          // Only a watch answers more than once, and only when the rows change (never here).
          expect(lines.length).toBeLessThanOrEqual(1);
          if (lines.length === 0) {
            // No answer only when no complete, short-enough line was ever sent.
            const sent = Buffer.concat(chunks.map((c) => Buffer.from(c))).toString("utf8");
            const nl = sent.indexOf("\n");
            expect(nl < 0 || !halfClose).toBe(true);
            expect(sent.length <= 4096 || !halfClose).toBe(true);
          }
          await stillServes();
          // Watchers that hung up no longer hold a subscription.
          await new Promise((r) => setTimeout(r, 5));
          expect(source.subscribers).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("bytes after an answer are ignored, not buffered or answered again", async () => {
    const flood = new Uint8Array(64 * 1024).fill(0x0a);
    const out = await exchange(
      server.path,
      [
        enc('{"kind":"peerstatuses"}\n{"kind":"identities"}\n'),
        flood,
        flood,
        enc('{"kind":"endpoints"}\n'),
      ],
      true,
    );
    expect(out).toBe('{"rows":[{"id":"row-peerstatuses","version":1}]}\n');
  });

  it("a line longer than 4096 bytes is refused even when its newline comes in the same chunk", async () => {
    const out = await exchange(
      server.path,
      [enc(`${" ".repeat(5000)}{"kind":"peerstatuses"}\n`)],
      true,
    );
    expect(out).toBe('{"error":"request too long"}\n');
  });
});

describe("control client fuzz", () => {
  it("any answer from the socket: rows or a ControlError, never an uncaught throw", async () => {
    const { createServer } = await import("node:net");
    const dir = mkdtempSync(join(tmpdir(), "wsf-ctlc-"));
    const path = join(dir, "fake.sock");
    let reply: Uint8Array = new Uint8Array();
    const open = new Set<import("node:net").Socket>();
    const fake = createServer((c) => {
      open.add(c);
      c.on("close", () => open.delete(c));
      c.on("error", () => {});
      c.end(reply);
    });
    await new Promise<void>((r) => fake.listen(path, r));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc
              .constantFrom(
                "not json\n",
                "null\n",
                "42\n",
                '{"rows":5}\n',
                '{"error":{"x":1}}\n',
                '{"rows":[]}\n',
                '{"rows":[{"id":"a"}]}\n{"rows":[]}\n',
              )
              .map(enc),
          ),
          async (bytes) => {
            reply = bytes;
            try {
              const rows = await controlRequest(path, { kind: "peerstatuses" });
              expect(Array.isArray(rows)).toBe(true);
            } catch (e) {
              expect((e as Error).name).toBe("ControlError");
            }
          },
        ),
        { numRuns: 200 },
      );
    } finally {
      for (const c of open) c.destroy();
      await new Promise((r) => fake.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
