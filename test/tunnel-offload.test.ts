/**
 * The fast data path end to end: TCP through wirespan-wg tunnels in network namespaces with the
 * batched-UDP bind (sendmmsg + UDP GSO/GRO) and TUN offload (TSO super-packets split on read,
 * TCP segments coalesced on write). 24 MiB of random bytes must arrive bit-exact (SHA-256 on
 * both ends) in both directions, against wirespan and against wireguard-go, and with the
 * offloads switched off.
 *
 * Underlay 198.18.5.0/24, overlay 198.19.5.0/24 (the benchmark's addresses, in namespaces wso-*).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { BenchNet, OVERLAY } from "../bench/tunnel/netns.js";
import { type Impl, TunnelPair } from "../bench/tunnel/tunnel-pair.js";
import { describePrivileged, requireTool } from "./support/privileged.js";

const BYTES = 24 << 20;
const PORT = 5_299;

/** Node one-liners run inside the namespaces: a TCP sink that prints the SHA-256 it received. */
const SINK = `const c=require("crypto"),h=c.createHash("sha256");let n=0;require("net").createServer(s=>{s.on("data",d=>{h.update(d);n+=d.length});s.on("end",()=>{console.log(h.digest("hex")+" "+n);process.exit(0)})}).listen(${PORT},"${OVERLAY.b}")`;
const SOURCE = `const c=require("crypto"),h=c.createHash("sha256"),b=c.randomBytes(${BYTES});h.update(b);const s=require("net").connect(${PORT},"${OVERLAY.b}",()=>{s.end(b,()=>{console.log(h.digest("hex")+" "+b.length)})})`;

describePrivileged("data path: TCP through wirespan with UDP GSO/GRO and TUN offload", () => {
  const net = new BenchNet("wso");

  beforeAll(async () => {
    for (const t of ["wireguard-go", "wg", "ip"]) requireTool(t);
    await net.setup();
  });

  afterAll(async () => {
    await net.teardown();
  });

  async function transfer(a: Impl, b: Impl, env: NodeJS.ProcessEnv = {}): Promise<void> {
    const tunnel = await TunnelPair.up(net, a, b, { env });
    try {
      const sink = net.spawn(net.b, [process.execPath, "-e", SINK]);
      await new Promise((r) => setTimeout(r, 500));
      const sent = await net.must(net.a, [process.execPath, "-e", SOURCE], { timeout: 60_000 });
      await Promise.race([sink.exited, new Promise((r) => setTimeout(r, 30_000))]);
      expect(sink.output().trim()).toBe(sent.trim());
      expect(sent.trim().endsWith(` ${BYTES}`)).toBe(true);
    } finally {
      await tunnel.down();
    }
  }

  it("wirespan → wirespan", () => transfer("wirespan", "wirespan"), 120_000);
  it("wirespan → wireguard-go", () => transfer("wirespan", "wireguard-go"), 120_000);
  it("wireguard-go → wirespan", () => transfer("wireguard-go", "wirespan"), 120_000);
  it(
    "wirespan → wirespan with every offload off",
    () =>
      transfer("wirespan", "wirespan", {
        WIRESPAN_TUN_OFFLOAD: "0",
        WIRESPAN_UDP_GSO: "0",
        WIRESPAN_UDP_GRO: "0",
      }),
    120_000,
  );
});
