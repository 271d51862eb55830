/**
 * `wirespan proxy -d`: the daemon detaches (its own session, the launcher gone), writes its pid
 * file and log, answers on its health endpoint, and stops cleanly on SIGTERM; a start that fails
 * (a port in use) is reported on the invoking terminal with a non-zero exit. Unprivileged, on
 * loopback: the peer never answers, so /healthz says 503 (no recent handshake).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WIRESPAN = join(import.meta.dirname, "../../bin/wirespan");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(WIRESPAN, args, { timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, …]. */
function procStat(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

function config(healthPort: number): string {
  const key = nodeCrypto.randomBytes(32);
  const peer = nodeCrypto.x25519PublicKey(nodeCrypto.randomBytes(32));
  return `[Interface]
PrivateKey = ${b64(key)}
Address = 198.19.9.2/32

[Peer]
PublicKey = ${b64(peer)}
Endpoint = 127.0.0.1:9
AllowedIPs = 198.19.9.0/24

[Socks5]
BindAddress = 127.0.0.1:0

[Health]
BindAddress = 127.0.0.1:${healthPort}
`;
}

describe("wirespan proxy -d (daemon)", () => {
  let dir = "";
  let pid = 0;
  let launched: { code: number; stdout: string; stderr: string };
  const pidFile = () => join(dir, "proxy.pid");
  const logFile = () => join(dir, "proxy.log");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wsp-d-"));
    writeFileSync(join(dir, "proxy.conf"), config(0), { mode: 0o600 });
    launched = await run([
      ...["proxy", "-c", join(dir, "proxy.conf"), "-d"],
      ...["--log-file", logFile(), "--pid-file", pidFile(), "--log-level", "verbose"],
    ]);
    const m = /running in the background as pid (\d+)/.exec(launched.stdout);
    pid = m ? Number(m[1]) : 0;
  }, 100_000);

  afterAll(() => {
    if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns 0 once it listens, leaving the daemon in its own session with a pid file and a log", () => {
    expect(launched.code, launched.stderr).toBe(0);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    expect(readFileSync(pidFile(), "utf8").trim()).toBe(String(pid));
    const [, ppid, , session] = procStat(pid);
    // setsid(2): a session (and no controlling terminal) of its own; the launcher is gone.
    expect(Number(session)).toBe(pid);
    expect(Number(ppid)).not.toBe(process.pid);
    expect(existsSync(logFile())).toBe(true);
    expect(statSync(logFile()).mode & 0o777).toBe(0o600);
  });

  it("answers on its health endpoint (503 without a handshake) and serves /metrics", async () => {
    const m = /health on 127\.0\.0\.1:(\d+)/.exec(launched.stdout);
    expect(m).not.toBeNull();
    const base = `http://127.0.0.1:${m?.[1]}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    await health.text();
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("wirespan_proxy_healthy 0");
  });

  it("stops cleanly on SIGTERM: exits, removes its pid file, logs why", async () => {
    process.kill(pid, "SIGTERM");
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
    expect(existsSync(pidFile())).toBe(false);
    expect(readFileSync(logFile(), "utf8")).toContain("shutting down (SIGTERM)");
  });

  describe("a start that fails", () => {
    let busy: Server;
    let port = 0;
    beforeAll(async () => {
      busy = createServer();
      await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
      port = (busy.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => busy.close(() => r())));

    it("is reported on the invoking terminal with a non-zero exit", async () => {
      const conf = join(dir, "busy.conf");
      writeFileSync(conf, config(port), { mode: 0o600 });
      const r = await run(["proxy", "-c", conf, "-d", "--pid-file", join(dir, "busy.pid")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("EADDRINUSE");
      expect(r.stderr).toMatch(/wirespan proxy: failed to start \(exit 1\)/);
      expect(existsSync(join(dir, "busy.pid"))).toBe(false);
    }, 100_000);
  });
});
