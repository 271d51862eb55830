/**
 * The `wirespan proxy` configuration: a wg-quick file plus wireproxy's sections. Mistakes are
 * errors naming file and line; any text gives a config or such an error (fuzz), never another
 * exception.
 */

import { formatCidr, parseSet } from "@wirespan/noise/internal";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProxyConfigError, parseProxyConfig, uapiSetBody } from "../../src/proxy/proxy-config.js";

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const KEY_C = Buffer.alloc(32, 3).toString("base64");

const full = `# a wireproxy-style file
[Interface]
PrivateKey = ${KEY_A}
Address = 198.19.0.2/32, fd00:19::2/128
DNS = 198.19.0.1, corp.example
MTU = 1380
ListenPort = 51999
Table = off   # ignored without a kernel interface

[Peer]
PublicKey = ${KEY_B}
PresharedKey = ${KEY_C}
Endpoint = [fd00:18::1]:51820
AllowedIPs = 198.19.0.0/24
AllowedIPs = fd00:19::/64
PersistentKeepalive = 25

[Socks5]
BindAddress = 127.0.0.1:1080
Username = alice
Password = s3 cret

[http]
BindAddress = 8080

[TCPClientTunnel]
BindAddress = 127.0.0.1:2222
Target = server.internal:22

[TCPServerTunnel]
ListenPort = 8000
Target = 127.0.0.1:80

[UDPProxyTunnel]
BindAddress = 127.0.0.1:5353
Target = 198.19.0.1:53
InactivityTimeout = 10

[UDPServerTunnel]
ListenPort = 5000
Target = localhost:5000

[Health]
BindAddress = 127.0.0.1:9080
`;

function errorOf(text: string): ProxyConfigError {
  try {
    parseProxyConfig(text, "p.conf");
  } catch (err) {
    if (err instanceof ProxyConfigError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("proxy configuration (wg-quick + wireproxy sections)", () => {
  it("reads every section and key", () => {
    const c = parseProxyConfig(full);
    expect(c.interface.addresses.map(formatCidr)).toEqual(["198.19.0.2/32", "fd00:19::2/128"]);
    expect(c.interface.dns).toEqual(["198.19.0.1"]);
    expect(c.interface.searchDomains).toEqual(["corp.example"]);
    expect(c.interface.mtu).toBe(1380);
    expect(c.interface.listenPort).toBe(51999);
    expect(c.peers[0].endpoint).toEqual({ host: "fd00:18::1", port: 51820 });
    expect(c.peers[0].allowedIps.map(formatCidr)).toEqual(["198.19.0.0/24", "fd00:19::/64"]);
    expect(c.peers[0].persistentKeepalive).toBe(25);
    expect(c.socks5).toEqual([
      {
        listen: { host: "127.0.0.1", port: 1080 },
        credentials: { username: "alice", password: "s3 cret" },
      },
    ]);
    expect(c.http).toEqual([{ listen: { host: "127.0.0.1", port: 8080 }, credentials: undefined }]);
    expect(c.tcpClientTunnels[0].target).toEqual({ host: "server.internal", port: 22 });
    expect(c.tcpServerTunnels[0]).toEqual({
      listen: { host: "", port: 8000 },
      target: { host: "127.0.0.1", port: 80 },
    });
    expect(c.udpClientTunnels[0].idleMs).toBe(10_000);
    expect(c.udpServerTunnels[0].target).toEqual({ host: "localhost", port: 5000 });
    expect(c.health).toEqual({ host: "127.0.0.1", port: 9080 });
  });

  it("turns the WireGuard part into a UAPI set the codec accepts", () => {
    const c = parseProxyConfig(full);
    const body = uapiSetBody(c, new Map([[c.peers[0], "[fd00:18::1]:51820"]]));
    const req = parseSet(body);
    expect(req.listenPort).toBe(51999);
    expect(req.peers[0].persistentKeepalive).toBe(25);
    expect(req.peers[0].allowedIps.map((a) => formatCidr(a.cidr))).toEqual([
      "198.19.0.0/24",
      "fd00:19::/64",
    ]);
  });

  it("gives a peer without AllowedIPs everything, and reads WGConfig from another file", () => {
    const wg = `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\n`;
    const c = parseProxyConfig(
      "WGConfig = wg0.conf\n[Socks5]\nBindAddress = 127.0.0.1:0\n",
      "p.conf",
      {
        readFile: (p) => {
          expect(p).toBe("wg0.conf");
          return wg;
        },
      },
    );
    expect(c.peers[0].allowedIps.map(formatCidr)).toEqual(["0.0.0.0/0", "::/0"]);
    expect(c.interface.mtu).toBe(1420);
  });

  it("names the file and line of each mistake", () => {
    const lineOf = (needle: string) => full.slice(0, full.indexOf(needle)).split("\n").length;
    const cases: Array<[string, number, RegExp]> = [
      [
        full.replace("PrivateKey = ", "PrivateKey = x"),
        lineOf("PrivateKey"),
        /base64 WireGuard key/,
      ],
      [full.replace("MTU = 1380", "MTU = 99999"), lineOf("MTU"), /MTU must be an integer/],
      [
        full.replace("Endpoint = [fd00:18::1]:51820", "Endpoint = fd00:18::1:51820"),
        lineOf("Endpoint"),
        /host:port/,
      ],
      [
        full.replace("AllowedIPs = 198.19.0.0/24", "AllowedIPs = 198.19.0.0/33"),
        lineOf("AllowedIPs"),
        /not a CIDR/,
      ],
      [full.replace("Username = alice\n", ""), lineOf("Username"), /Password but no Username/],
      [full.replace("[http]", "[htp]"), lineOf("[http]"), /unknown section \[htp\]/],
      [
        full.replace("Target = 127.0.0.1:80", "Tagret = 127.0.0.1:80"),
        lineOf("Target = 127.0.0.1:80"),
        /unknown key Tagret/,
      ],
      [full.replace("Table = off", "PostUp = iptables -A"), lineOf("Table"), /hooks are not run/],
      [
        full.replace("[Interface]", "[Interface"),
        lineOf("[Interface]"),
        /malformed section header/,
      ],
      [
        full.replace("ListenPort = 51999", "ListenPort 51999"),
        lineOf("ListenPort = 51999"),
        /Key = Value/,
      ],
      [
        `${full}\n[Interface]\nPrivateKey = ${KEY_A}\n`,
        full.split("\n").length + 1,
        /second \[Interface\]/,
      ],
    ];
    for (const [text, line, re] of cases) {
      const e = errorOf(text);
      expect(e.message).toMatch(re);
      expect(e.line).toBe(line);
      expect(e.message.startsWith(`p.conf:${line}: `)).toBe(true);
    }
    expect(errorOf(`[Interface]\nPrivateKey = ${KEY_A}\n`).message).toMatch(/no \[Peer\]/);
  });

  it("answers any text with a config or a ProxyConfigError (fuzz)", () => {
    const lines = full.split("\n");
    const mutated = fc
      .array(
        fc.oneof(
          fc.constantFrom(...lines),
          fc.string({ maxLength: 80 }),
          fc.constantFrom(
            "[Peer]",
            "[Socks5]",
            "Target = ",
            "BindAddress = [::1]:99999",
            "= x",
            "[]",
            "DNS = ,,,",
          ),
        ),
        { maxLength: 40 },
      )
      .map((l) => l.join("\n"));
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 400 })), (text) => {
        try {
          parseProxyConfig(text, "f");
        } catch (err) {
          expect(err).toBeInstanceOf(ProxyConfigError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
