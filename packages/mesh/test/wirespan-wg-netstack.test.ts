/**
 * `wirespan-wg --netstack -c FILE IFNAME` without privileges (as `nobody` when the test runs as
 * root): the UAPI socket appears in WG_SOCKET_DIR, answers get/set like wireguard-go's, and the
 * SOCKS5 front-end of FILE listens. No TUN, no namespace.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enc, exchange } from "./support/socket-exchange.js";

const WG = join(import.meta.dirname, "../bin/wirespan-wg");
const asNobody =
  process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];

describe("wirespan-wg --netstack (rootless UAPI)", () => {
  let dir = "";
  let daemon: ChildProcess;
  let output = "";
  const sock = () => join(dir, "wsn0.sock");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wsn-"));
    chmodSync(dir, 0o777);
    const conf = join(dir, "wsn.conf");
    writeFileSync(
      conf,
      "[Interface]\nAddress = 198.19.9.1/32\n\n[Socks5]\nBindAddress = 127.0.0.1:0\n",
      { mode: 0o644 },
    );
    const argv = [...asNobody, WG, "--netstack", "-c", conf, "-f", "wsn0"];
    daemon = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, WG_SOCKET_DIR: dir, LOG_LEVEL: "verbose" },
    });
    daemon.stdout?.on("data", (d) => {
      output += d;
    });
    daemon.stderr?.on("data", (d) => {
      output += d;
    });
    const deadline = Date.now() + 60_000;
    while (!existsSync(sock())) {
      if (Date.now() > deadline || daemon.exitCode !== null)
        throw new Error(`no UAPI socket:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 70_000);

  afterAll(() => {
    daemon?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the UAPI in WG_SOCKET_DIR: set then get", async () => {
    const key = "a".repeat(64);
    const set = await exchange(sock(), [enc(`set=1\nprivate_key=${key}\nlisten_port=0\n\n`)], true);
    expect(set).toBe("errno=0\n\n");
    const get = await exchange(sock(), [enc("get=1\n\n")], true);
    expect(get).toContain(`private_key=${key}`);
    expect(get).toMatch(/errno=0\n\n$/);
  });

  it("runs the front-ends of its file (SOCKS5 greeting answered)", async () => {
    const port = Number(/socks5 on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    expect(port).toBeGreaterThan(0);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const c = connect({ host: "127.0.0.1", port }, () => c.write(Uint8Array.of(5, 1, 0)));
      c.once("data", (d) => {
        c.destroy();
        resolve(d);
      });
      c.once("error", reject);
    });
    expect([...reply]).toEqual([5, 0]);
  });

  it("stops when its socket is removed", async () => {
    rmSync(sock());
    const code = await new Promise((r) => daemon.once("exit", r));
    expect(code).toBe(0);
  }, 15_000);
});
