/**
 * The rootless part of `pnpm start`: two WireGuard endpoints on the userspace TCP/IP stack (no
 * TUN, no root), peered over loopback UDP. B serves HTTP on its tunnel address 198.19.77.2;
 * A runs `wirespan proxy`'s SOCKS5 front-end on loopback. A SOCKS5 client on this host then
 * fetches B's page through A's proxy and the encrypted tunnel.
 */
import { connect, type Socket } from "node:net";
import { nodeCrypto } from "@wirespan/noise/crypto/node";
import { parseProxyConfig } from "../proxy/proxy-config.js";
import { ProxyNode } from "../proxy/proxy-node.js";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function keypair() {
  const sk = nodeCrypto.randomBytes(32);
  return { sk: b64(sk), pk: b64(nodeCrypto.x25519PublicKey(sk)) };
}

/** One HTTP GET through a SOCKS5 proxy (RFC 1928 CONNECT to an IPv4 address). */
function socksGet(proxyPort: number, ip: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c: Socket = connect({ host: "127.0.0.1", port: proxyPort });
    const timer = setTimeout(() => c.destroy(new Error("timed out")), 10_000);
    let stage = 0;
    let buf = Buffer.alloc(0);
    c.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    c.write(Uint8Array.of(5, 1, 0, 5, 1, 0, 1, ...ip.split(".").map(Number), 0, 80));
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 12) {
        if (buf[3] !== 0) return reject(new Error(`SOCKS5 reply ${buf[3]}`));
        stage = 1;
        buf = buf.subarray(12);
        c.write(`GET ${path} HTTP/1.1\r\nHost: ${ip}\r\nConnection: close\r\n\r\n`);
      }
    });
    c.on("end", () => {
      clearTimeout(timer);
      resolve(buf.toString());
    });
  });
}

export async function runProxyDemo(say: (line: string) => void): Promise<boolean> {
  const a = keypair();
  const b = keypair();
  const nodeB = await ProxyNode.start(
    parseProxyConfig(
      `[Interface]\nPrivateKey = ${b.sk}\nAddress = 198.19.77.2/32\n[Peer]\nPublicKey = ${a.pk}\nAllowedIPs = 198.19.77.1/32\n`,
    ),
  );
  let nodeA: ProxyNode | null = null;
  try {
    nodeB.stack
      .createServer((s) => {
        s.on("error", () => {});
        s.once("data", () =>
          s.end(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from 198.19.77.2, served by a userspace TCP/IP stack\n",
          ),
        );
      })
      .listen(80);
    nodeA = await ProxyNode.start(
      parseProxyConfig(
        `[Interface]\nPrivateKey = ${a.sk}\nAddress = 198.19.77.1/32\n[Peer]\nPublicKey = ${b.pk}\nEndpoint = 127.0.0.1:${nodeB.device.listenPort}\nAllowedIPs = 198.19.77.0/24\n[Socks5]\nBindAddress = 127.0.0.1:0\n`,
      ),
    );
    const socks = nodeA.frontEnds.running[0].address.port;
    say(
      `\nrootless: two WireGuard endpoints on the netstack (no TUN, no root), UDP ${nodeA.device.listenPort} ↔ ${nodeB.device.listenPort}`,
    );
    say(`SOCKS5 proxy of 198.19.77.1 on 127.0.0.1:${socks}; GET http://198.19.77.2/ through it`);
    const t0 = Date.now();
    const response = await socksGet(socks, "198.19.77.2", "/");
    const body = response.split("\r\n\r\n")[1] ?? "";
    say(
      `${response.split("\r\n")[0]} in ${Date.now() - t0} ms (handshake included): ${body.trim()}`,
    );
    return response.startsWith("HTTP/1.1 200");
  } finally {
    await nodeA?.close();
    await nodeB.close();
  }
}
