/**
 * UAPI socket framing (reference §1.4, wireguard-go device/uapi.go IpcHandle) against a fake
 * handler: what bytes `wg` sends and what it must get back.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_LINE, UapiFramer, type UapiHandler, UapiServer } from "../src/uapi-server.js";

/** Records set bodies; answers -22 to bodies containing "bad". */
class FakeHandler implements UapiHandler {
  sets: string[] = [];
  ipcGet(): string {
    return "private_key=00\nlisten_port=1234\nerrno=0\n";
  }
  async ipcSet(text: string): Promise<number> {
    this.sets.push(text);
    await new Promise((r) => setTimeout(r, 1));
    return text.includes("bad") ? -22 : 0;
  }
}

/** Feeds `chunks` to a framer and collects everything written until it closes or settles. */
async function converse(chunks: string[], end = false, h = new FakeHandler()) {
  let out = "";
  let closed: string | undefined | null = null;
  const f = new UapiFramer(
    h,
    (t) => {
      out += t;
    },
    (why) => {
      closed = why ?? "";
    },
  );
  for (const c of chunks) f.push(c);
  if (end) f.end();
  await new Promise((r) => setTimeout(r, 30));
  return { out, closed: closed as string | null, sets: h.sets };
}

describe("UapiFramer", () => {
  it("answers get with lines and errno=0 and a blank line", async () => {
    const r = await converse(["get=1\n\n"]);
    expect(r.out).toBe("private_key=00\nlisten_port=1234\nerrno=0\n\n");
    expect(r.closed).toBeNull();
  });

  it("passes set bodies through and answers errno, several requests per connection in order", async () => {
    const r = await converse(["set=1\nlisten_port=1\n\nset=1\nbad=1\n\nget=1\n\nset=1\n\n"]);
    expect(r.sets).toEqual(["set=1\nlisten_port=1\n\n", "set=1\nbad=1\n\n", "set=1\n\n"]);
    expect(r.out).toBe(
      "errno=0\n\nerrno=-22\n\nprivate_key=00\nlisten_port=1234\nerrno=0\n\nerrno=0\n\n",
    );
    expect(r.closed).toBeNull();
  });

  it("gives the same answers whatever the chunking", async () => {
    const input = "set=1\nprivate_key=ab\npublic_key=cd\nallowed_ip=1.2.3.4/32\n\nget=1\n\n";
    const whole = await converse([input]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(input.length), { maxLength: 8 }), async (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: string[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(input.slice(prev, p));
          prev = p;
        }
        chunks.push(input.slice(prev));
        const r = await converse(chunks);
        expect(r.out).toBe(whole.out);
        expect(r.sets).toEqual(whole.sets);
      }),
      { numRuns: 25 },
    );
  });

  it("closes on an unknown operation after answering -EINVAL", async () => {
    const r = await converse(["hello\nget=1\n\n"]);
    expect(r.out).toBe("errno=-22\n\n");
    expect(r.closed).toMatch(/invalid operation/);
  });

  it("rejects get with trailing characters", async () => {
    const r = await converse(["get=1\nx\n"]);
    expect(r.out).toBe("errno=-22\n\n");
    expect(r.closed).not.toBeNull();
  });

  it("closes on an oversized line without applying anything", async () => {
    const r = await converse([`set=1\nprivate_key=${"a".repeat(MAX_LINE + 10)}`]);
    expect(r.out).toBe("errno=-5\n\n");
    expect(r.sets).toEqual([]);
    expect(r.closed).toMatch(/too long/);
  });

  it("answers -EIO when the handler's get throws, and serves on", async () => {
    class ThrowingGet extends FakeHandler {
      gets = 0;
      override ipcGet(): string {
        if (this.gets++ === 0) throw new Error("device state unreadable");
        return super.ipcGet();
      }
    }
    const r = await converse(
      ["get=1\n\nset=1\nlisten_port=2\n\nget=1\n\n"],
      true,
      new ThrowingGet(),
    );
    expect(r.out).toBe("errno=-5\n\nerrno=0\n\nprivate_key=00\nlisten_port=1234\nerrno=0\n\n");
    expect(r.sets).toEqual(["set=1\nlisten_port=2\n\n"]);
    expect(r.closed).toBe("");
  });

  it("applies a set cut short by EOF, as wireguard-go's scanner does", async () => {
    const r = await converse(["set=1\nlisten_port=7\nfwmark=3"], true);
    expect(r.sets).toEqual(["set=1\nlisten_port=7\nfwmark=3\n\n"]);
    expect(r.out).toBe("errno=0\n\n");
    expect(r.closed).toBe("");
  });
});

describe("UapiServer", () => {
  const dir = mkdtempSync(join(tmpdir(), "wsd-uapi-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function request(path: string, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = connect(path);
      let out = "";
      c.on("data", (d) => {
        out += String(d);
      });
      c.on("error", reject);
      c.on("close", () => resolve(out));
      c.end(text);
    });
  }

  it("serves get and set on a 0600 socket and removes it on close", async () => {
    const h = new FakeHandler();
    const s = await UapiServer.listen("wsd0", h, { dir });
    expect(statSync(s.path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(await request(s.path, "get=1\n\n")).toBe(
      "private_key=00\nlisten_port=1234\nerrno=0\n\n",
    );
    expect(await request(s.path, "set=1\nfwmark=1\n\nset=1\nbad\n\n")).toBe(
      "errno=0\n\nerrno=-22\n\n",
    );
    await s.close();
    expect(() => statSync(s.path)).toThrow();
  });

  it("replaces a stale socket and refuses a live one", async () => {
    // A stale socket: its owner was killed without unlinking it.
    const path = join(dir, "wsd1.sock");
    spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    const s = await UapiServer.listen("wsd1", new FakeHandler(), { dir });
    await expect(UapiServer.listen("wsd1", new FakeHandler(), { dir })).rejects.toThrow(
      "interface wsd1 is already in use",
    );
    await s.close();
  });

  it("reports the removal of its socket file, once, within 2 s", async () => {
    const s = await UapiServer.listen("wsd2", new FakeHandler(), { dir });
    let calls = 0;
    const removed = new Promise<void>((r) =>
      s.onRemoved(() => {
        calls++;
        r();
      }),
    );
    unlinkSync(s.path);
    const reported = await Promise.race([
      removed.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2_000)),
    ]);
    expect(reported).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
    await s.close();
    expect(calls).toBe(1); // closing is not a second removal
  });
});
