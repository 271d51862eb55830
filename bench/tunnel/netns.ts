/**
 * The benchmark's network: two namespaces (`wsb-<run>-a`, `wsb-<run>-b`, named per run by
 * test/support/netns.ts) joined by the veth pair `wsb-va`/`wsb-vb` (another prefix for tests),
 * underlay 198.18.5.1/24 and 198.18.5.2/24 (RFC 2544 benchmarking range).
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
export const LISTEN_PORT = { a: 51_951, b: 51_952 } as const;

/**
 * Two namespaces with the benchmark's underlay. Reuses the test harness for process and
 * namespace lifetime; only the addresses differ.
 */
export class BenchNet {
  private readonly pair: NetnsPair;
  readonly a: string;
  readonly b: string;
  /** TUN interface names; distinct per namespace because UAPI sockets share /var/run/wireguard. */
  readonly ifname: { readonly a: string; readonly b: string };

  /** `prefix` names the namespaces, veths and interfaces (default "wsb"; tests use their own). */
  constructor(readonly prefix = "wsb") {
    this.pair = new NetnsPair(prefix);
    this.a = this.pair.a;
    this.b = this.pair.b;
    this.ifname = { a: `${prefix}a0`, b: `${prefix}b0` };
  }

  async setup(): Promise<void> {
    await this.teardown();
    const { a, b } = this;
    await must(["ip", "netns", "add", a]);
    await must(["ip", "netns", "add", b]);
    await must([
      "ip",
      "link",
      "add",
      `${this.prefix}-va`,
      "netns",
      a,
      "type",
      "veth",
      "peer",
      "name",
      `${this.prefix}-vb`,
      "netns",
      b,
    ]);
    for (const [ns, dev, addr] of [
      [a, `${this.prefix}-va`, UNDERLAY.a],
      [b, `${this.prefix}-vb`, UNDERLAY.b],
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
