/**
 * Two Devices, each running WireGuard over a NetstackTun (no TUN, no privileges) across real
 * loopback UDP: the netstack's sockets talk to each other through an encrypted tunnel.
 */
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetstackPair, netstackPair } from "./support/netstack-pair.js";

describe("Device on a netstack (in-process, loopback UDP)", () => {
  let pair: NetstackPair;
  beforeAll(async () => {
    pair = await netstackPair();
  });
  afterAll(async () => {
    await pair.close();
  });

  it("pings the other stack through the tunnel over IPv4 and IPv6", async () => {
    const r4 = await pair.a.ping("198.19.7.2", { timeout: 5000 });
    expect(r4.address).toBe("198.19.7.2");
    expect(r4.time).toBeGreaterThan(0);
    const r6 = await pair.b.ping("fd00:19:7::1", { timeout: 5000 });
    expect(r6.address).toBe("fd00:19:7::1");
  });

  it("echoes UDP both ways with dgram-shaped sockets (udp4 and udp6)", async () => {
    for (const [family, server, client, addr] of [
      ["udp4", pair.b, pair.a, "198.19.7.2"],
      ["udp6", pair.a, pair.b, "fd00:19:7::1"],
    ] as const) {
      const srv = server.createSocket(family);
      srv.on("message", (msg, rinfo) =>
        srv.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address),
      );
      await new Promise<void>((r) => srv.bind(7000, r));
      const cli = client.createSocket(family);
      const got = new Promise<[Buffer, { address: string; port: number }]>((r) =>
        cli.once("message", (m, ri) => r([m, ri])),
      );
      cli.send("hi", 7000, addr);
      const [msg, rinfo] = await got;
      expect(msg.toString()).toBe("echo:hi");
      expect(rinfo).toMatchObject({ address: addr, port: 7000 });
      srv.close();
      cli.close();
    }
  });

  it("reports ECONNREFUSED on a connected UDP socket when the port is closed (ICMP port unreachable)", async () => {
    const cli = pair.a.createSocket("udp4");
    const err = new Promise<NodeJS.ErrnoException>((r) => cli.once("error", r));
    cli.connect(7999, "198.19.7.2", () => cli.send("anyone?"));
    expect((await err).code).toBe("ECONNREFUSED");
    cli.close();
  });

  it("resolves names with the DNS server inside the tunnel (A and AAAA)", async () => {
    const dns = pair.b.createSocket("udp4");
    dns.on("message", (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const question = q.questions?.[0];
      const answers =
        question?.name === "svc.wirespan.test"
          ? [
              question.type === "A"
                ? { type: "A" as const, name: question.name, ttl: 60, data: "198.19.7.2" }
                : { type: "AAAA" as const, name: question.name, ttl: 60, data: "fd00:19:7::2" },
            ]
          : [];
      const reply = dnsPacket.encode({
        type: "response",
        id: q.id,
        flags: dnsPacket.RECURSION_DESIRED | (answers.length === 0 ? 3 : 0),
        questions: q.questions,
        answers,
      });
      dns.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => dns.bind(53, r));
    const addrs = await pair.a.lookup("svc.wirespan.test");
    expect(addrs).toEqual([
      { address: "198.19.7.2", family: 4 },
      { address: "fd00:19:7::2", family: 6 },
    ]);
    await expect(pair.a.lookup("missing.wirespan.test")).rejects.toMatchObject({
      code: "ENOTFOUND",
    });
    dns.close();
  });
});
