import { describe, expect, it } from "vitest";
import { advertisedEndpoints, filterIps, localAddresses } from "../src/kubespan/endpoints.js";

describe("FilterIPs semantics (reference §4.3)", () => {
  const ips = ["198.18.0.1", "192.168.1.5", "10.1.2.3", "fd00::1", "2001:db8::1"];

  it("the reference example keeps v4 minus 192.168/16, then v6", () => {
    expect(filterIps(ips, ["0.0.0.0/0", "!192.168.0.0/16", "::/0"])).toEqual([
      "198.18.0.1",
      "10.1.2.3",
      "fd00::1",
      "2001:db8::1",
    ]);
  });

  it("rule order sets output order; the result starts empty", () => {
    expect(filterIps(ips, ["::/0", "0.0.0.0/0"])).toEqual([
      "fd00::1",
      "2001:db8::1",
      "198.18.0.1",
      "192.168.1.5",
      "10.1.2.3",
    ]);
    expect(filterIps(ips, [])).toEqual([]);
    expect(filterIps(ips, ["198.18.0.0/15"])).toEqual(["198.18.0.1"]);
  });

  it("a negation only removes what earlier rules added; a later rule can add it back", () => {
    expect(filterIps(ips, ["!10.0.0.0/8", "10.0.0.0/8"])).toEqual(["10.1.2.3"]);
    expect(filterIps(ips, ["0.0.0.0/0", "!10.0.0.0/8", "10.1.2.3"])).toEqual([
      "198.18.0.1",
      "192.168.1.5",
      "10.1.2.3",
    ]);
  });
});

describe("local addresses", () => {
  const entry = (address: string, family: "IPv4" | "IPv6", internal = false) => ({
    address,
    family,
    internal,
    netmask: "",
    mac: "02:00:00:00:00:01",
    cidr: null,
    ...(family === "IPv6" ? { scopeid: 0 } : {}),
  });

  it("drops loopback, link-local, the mesh interface and KubeSpan/SideroLink ULAs; sorted", () => {
    const ifs = {
      lo: [entry("127.0.0.1", "IPv4", true), entry("::1", "IPv6", true)],
      eth0: [
        entry("fd00::5", "IPv6"),
        entry("198.18.0.9", "IPv4"),
        entry("fe80::1", "IPv6"),
        entry("169.254.3.3", "IPv4"),
      ],
      eth1: [entry("198.18.0.2", "IPv4"), entry("fdb5:876a:45c8:e002::1", "IPv6")],
      eth2: [entry("fd11:2233:4455:6603::1", "IPv6"), entry("198.18.0.9", "IPv4")],
      kubespan: [entry("198.19.0.1", "IPv4")],
    } as unknown as Parameters<typeof localAddresses>[1];
    expect(localAddresses(["kubespan"], ifs)).toEqual(["198.18.0.2", "198.18.0.9", "fd00::5"]);
  });
});

describe("advertised endpoints", () => {
  it("adds the public IP, filters, attaches the port, then extra endpoints without duplicates", () => {
    expect(
      advertisedEndpoints({
        addresses: ["198.18.0.2", "192.168.1.5", "fd00::5"],
        publicIp: "198.18.200.1",
        filters: ["0.0.0.0/0", "!192.168.0.0/16", "::/0"],
        extraEndpoints: ["198.18.0.2:51820", "198.18.9.9:40000"],
        port: 51820,
      }),
    ).toEqual(["198.18.0.2:51820", "198.18.200.1:51820", "[fd00::5]:51820", "198.18.9.9:40000"]);
  });

  it("a filter can drop the public IP; a known public IP is not added twice", () => {
    expect(
      advertisedEndpoints({
        addresses: ["198.18.0.2"],
        publicIp: "198.18.0.2",
        filters: ["198.18.0.0/24"],
        extraEndpoints: [],
        port: 4000,
      }),
    ).toEqual(["198.18.0.2:4000"]);
    expect(
      advertisedEndpoints({
        addresses: ["198.18.0.2"],
        publicIp: "203.0.113.1",
        filters: ["198.18.0.0/15"],
        extraEndpoints: [],
        port: 4000,
      }),
    ).toEqual(["198.18.0.2:4000"]);
  });
});
