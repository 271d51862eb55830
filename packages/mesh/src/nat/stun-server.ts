/**
 * A STUN Binding responder (RFC 8489 §6.3, reference/nat-relay.md §2.2) on its own UDP socket:
 * every well-formed Binding request is answered, from the address it arrived on, with the
 * datagram's source ip:port in XOR-MAPPED-ADDRESS. Served by `wirespan relay serve` and
 * `wirespan discovery serve --stun`. Anything else is dropped and counted.
 */
import { createSocket, type Socket } from "node:dgram";
import { decodeStun, encodeBindingSuccess, StunBindingRequest } from "./stun.js";

export interface StunServerStats {
  requests: number;
  dropped: number;
}

const V4_MAPPED = "::ffff:";

export class StunServer {
  readonly stats: StunServerStats = { requests: 0, dropped: 0 };

  private constructor(private readonly socket: Socket) {
    socket.on("message", (msg, rinfo) => {
      const m = decodeStun(msg);
      if (m === null || m.type !== StunBindingRequest) {
        this.stats.dropped++;
        return;
      }
      this.stats.requests++;
      let address = rinfo.address;
      let family: 4 | 6 = rinfo.family === "IPv4" ? 4 : 6;
      if (family === 6 && address.startsWith(V4_MAPPED) && address.includes(".")) {
        address = address.slice(V4_MAPPED.length);
        family = 4;
      }
      const reply = encodeBindingSuccess(m.transactionId, { address, port: rinfo.port, family });
      socket.send(reply, rinfo.port, rinfo.address, () => {});
    });
    socket.on("error", () => {});
  }

  /** Binds `host:port` (UDP; 3478 is STUN's port) and starts answering. */
  static async listen(host: string, port: number): Promise<StunServer> {
    const socket = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new StunServer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
