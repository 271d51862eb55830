/**
 * A mesh node without TUN and without root (`wirespan up --netstack`, `netstack.enabled` in the
 * mesh config): the same MeshNode — same identity, ULA, discovery records and peer status as a
 * TUN node — over the userspace TCP/IP stack, which answers pings at the node's KubeSpan
 * address. The stack gives the mesh to this host through a SOCKS5/HTTP proxy on loopback and
 * hands inbound TCP/UDP on configured ports to local services (like Tailscale's
 * userspace-networking mode). Other nodes cannot tell the difference.
 */
import { NetstackTun } from "@wirespan/tun/netstack/node";
import { firstHardwareMac } from "../kubespan/addressing.js";
import type { MeshConfig } from "../kubespan/config.js";
import { MeshNode } from "../kubespan/controller.js";
import { identityAddressIp, loadOrCreateKubeSpanIdentity } from "../kubespan/identity.js";
import type { MeshNodeOptions } from "../kubespan/mesh-node-options.js";
import type { Logger } from "../logger.js";
import { FrontEndSet } from "./front-ends.js";
import { stackTransport } from "./stack-transport.js";
import type { Transport } from "./transport.js";

export type NetstackNodeOptions = Omit<MeshNodeOptions, "tun" | "routing"> & {
  readonly config: MeshConfig;
  readonly logger?: Logger;
};

export class NetstackNode {
  private constructor(
    readonly node: MeshNode,
    readonly stack: NetstackTun,
    readonly tunnel: Transport,
    readonly frontEnds: FrontEndSet,
    readonly address: string,
  ) {}

  static async start(opts: NetstackNodeOptions): Promise<NetstackNode> {
    const ks = opts.config.kubespan;
    const mac = opts.mac !== undefined ? opts.mac : firstHardwareMac([ks.interface]);
    // Loaded here too, to give the stack its address before the Device starts; MeshNode.start
    // reads the same files.
    const identity = loadOrCreateKubeSpanIdentity(opts.stateDir, opts.config.cluster.id, mac);
    const address = identityAddressIp(identity);
    const stack = new NetstackTun({
      addresses: [`${address}/64`],
      mtu: ks.mtu,
      name: ks.interface,
    });
    let node: MeshNode;
    try {
      node = await MeshNode.start({ ...opts, mac, tun: stack, routing: null });
    } catch (err) {
      await stack.close();
      throw err;
    }
    const tunnel = stackTransport(stack);
    const ns = ks.netstack;
    try {
      const frontEnds = await FrontEndSet.start(
        {
          socks5: ns.socks5 ? [{ listen: ns.socks5 }] : [],
          http: ns.http ? [{ listen: ns.http }] : [],
          tcpClientTunnels: [],
          udpClientTunnels: [],
          tcpServerTunnels: ns.forwards
            .filter((f) => f.protocol === "tcp")
            .map((f) => ({ listen: { host: "", port: f.port }, target: f.target })),
          udpServerTunnels: ns.forwards
            .filter((f) => f.protocol === "udp")
            .map((f) => ({ listen: { host: "", port: f.port }, target: f.target, idleMs: 60_000 })),
        },
        { tunnel, logger: opts.logger },
      );
      return new NetstackNode(node, stack, tunnel, frontEnds, address);
    } catch (err) {
      await node.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.frontEnds.close();
    await this.node.close();
  }
}
