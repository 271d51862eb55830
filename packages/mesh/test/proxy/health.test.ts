/**
 * The health endpoint: 200 only with a handshake younger than REJECT_AFTER_TIME, Prometheus
 * metrics with the proxy counters and per-peer figures, read from a device's UAPI get answer.
 */
import { formatGet } from "@wirespan/noise/internal";
import { afterAll, describe, expect, it } from "vitest";
import { HealthServer } from "../../src/proxy/health.js";
import { ProxyStats } from "../../src/proxy/stats.js";

function device(handshakeAgoS: number | null) {
  return {
    ipcGet: () =>
      `${formatGet({
        privateKey: new Uint8Array(32).fill(1),
        listenPort: 51820,
        fwmark: 0,
        peers: [
          {
            publicKey: new Uint8Array(32).fill(2),
            presharedKey: null,
            endpoint: { address: "198.18.0.1", port: 51820, family: 4 },
            lastHandshakeNs:
              handshakeAgoS === null ? 0n : BigInt(Date.now() - handshakeAgoS * 1000) * 1_000_000n,
            txBytes: 1234n,
            rxBytes: 5678n,
            persistentKeepalive: 25,
            allowedIps: [],
          },
        ],
      })}errno=0\n`,
  };
}

describe("health endpoint", () => {
  const servers: HealthServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it("is healthy only with a fresh handshake, and serves metrics", async () => {
    const stats = new ProxyStats();
    stats.refuse("socks5", "auth_failed");
    for (const [age, status] of [
      [5, 200],
      [200, 503],
      [null, 503],
    ] as const) {
      const s = await HealthServer.start({ host: "127.0.0.1", port: 0 }, device(age), stats);
      servers.push(s);
      const r = await fetch(`http://127.0.0.1:${s.address.port}/healthz`);
      expect(r.status).toBe(status);
      const body = (await r.json()) as { peers: Array<{ endpoint: string }> };
      expect(body.peers[0].endpoint).toBe("198.18.0.1:51820");
      const m = await (await fetch(`http://127.0.0.1:${s.address.port}/metrics`)).text();
      expect(m).toContain(`wirespan_proxy_healthy ${status === 200 ? 1 : 0}`);
      expect(m).toContain('wirespan_proxy_refused_total{frontend="socks5",reason="auth_failed"} 1');
      expect(m).toMatch(/wirespan_peer_receive_bytes_total\{public_key="[^"]+"\} 5678/);
    }
  });
});
