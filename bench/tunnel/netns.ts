/**
 * The benchmark's network: namespaces `wsb-a` and `wsb-b` joined by the veth pair
 * `wsb-va`/`wsb-vb`, underlay 198.18.5.1/24 and 198.18.5.2/24 (RFC 2544 benchmarking range).
 * The tunnel's overlay is 198.19.5.1/24 (in a) and 198.19.5.2/24 (in b).
 *
 * Namespace a is always the sender (iperf3 client), b the receiver (iperf3 server).
 */
import {
  type Daemon,
  must,
  NetnsPair,
  type RunOptions,
  type RunResult,
  run,
  waitFor,
} from "../../test/support/netns.js";

export const UNDERLAY = { a: "198.18.5.1", b: "198.18.5.2" } as const;
export const OVERLAY = { a: "198.19.5.1", b: "198.19.5.2" } as const;
/** TUN interface names; distinct per namespace because UAPI sockets share /var/run/wireguard. */
export const IFNAME = { a: "wsba0", b: "wsbb0" } as const;
export const LISTEN_PORT = { a: 51_951, b: 51_952 } as const;

/**
 * Two namespaces with the benchmark's underlay. Reuses the test harness for process and
 * namespace lifetime; only the addresses differ.
 */
export class BenchNet {
  private readonly pair = new NetnsPair("wsb");
  readonly a = this.pair.a;
  readonly b = this.pair.b;

  async setup(): Promise<void> {
    await this.teardown();
    const { a, b } = this;
    await must(["ip", "netns", "add", a]);
    await must(["ip", "netns", "add", b]);
    await must([
      "ip",
      "link",
      "add",
      "wsb-va",
      "netns",
      a,
      "type",
      "veth",
      "peer",
      "name",
      "wsb-vb",
      "netns",
      b,
    ]);
    for (const [ns, dev, addr] of [
      [a, "wsb-va", UNDERLAY.a],
      [b, "wsb-vb", UNDERLAY.b],
    ] as const) {
      await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await must(["ip", "-n", ns, "addr", "add", `${addr}/24`, "dev", dev]);
      await must(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    await waitFor(
      "underlay ping",
      async () => (await this.exec(a, ["ping", "-c1", "-W1", UNDERLAY.b])).code === 0,
    );
  }

  exec(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.pair.exec(ns, argv, opts);
  }

  must(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return this.pair.must(ns, argv, opts);
  }

  spawn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Daemon {
    return this.pair.spawn(ns, argv, env);
  }

  stop(d: Daemon, grace = 5_000): Promise<void> {
    return this.pair.stop(d, grace);
  }

  /** Registers a UAPI socket for removal at teardown. */
  socket(path: string): void {
    this.pair.sockets.add(path);
  }

  async teardown(): Promise<void> {
    await this.pair.teardown();
    // A veth whose namespaces are gone is gone too; nothing else to remove.
    await run(["true"]);
  }
}
