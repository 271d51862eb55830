/**
 * Where a ping's round trip goes, hop by hop: one tcpdump per namespace (`-i any`, kernel
 * timestamps in ns, one clock for both namespaces) sees the ICMP packet on each TUN and the
 * WireGuard datagram on each veth. Per echo sequence number:
 *
 *   a TUN out ─seal a─▶ a veth out ─wire─▶ b veth in ─open b─▶ b TUN in ─kernel b─▶
 *   b TUN out ─seal b─▶ b veth out ─wire─▶ a veth in ─open a─▶ a TUN in
 *
 * "seal" and "open" are the daemon's share: from the packet becoming readable on one side to
 * the daemon's write on the other, wake-up of an idle process included.
 */
import type { Daemon } from "../../test/support/netns.js";
import { sleep } from "../../test/support/netns.js";
import { type BenchNet, LISTEN_PORT, OVERLAY } from "../tunnel/netns.js";
import { median } from "../tunnel/stats.js";

export const HOPS = [
  "seal a",
  "wire",
  "open b",
  "kernel b",
  "seal b",
  "wire back",
  "open a",
] as const;
export type Hop = (typeof HOPS)[number];

interface Event {
  t: number;
  dev: string;
  out: boolean;
  /** ICMP echo: "req"/"rep" with its sequence number; a WireGuard datagram: "udp". */
  kind: "req" | "rep" | "udp";
  seq: number;
}

const LINE =
  /^(\d+)\.(\d{9}) (\S+)\s+(In|Out)\s+IP (\S+) > (\S+): (?:ICMP echo (request|reply), id \d+, seq (\d+)|UDP)/;

function parse(text: string): Event[] {
  const events: Event[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    // Microseconds since the epoch, exact in a double (2^53 µs ≈ 285 years).
    const t = Number(m[1]) * 1e6 + Number(m[2]) / 1e3;
    const kind = m[7] === "request" ? "req" : m[7] === "reply" ? "rep" : "udp";
    events.push({ t, dev: m[3], out: m[4] === "Out", kind, seq: Number(m[8] ?? -1) });
  }
  return events;
}

function first(events: Event[], after: number, pred: (e: Event) => boolean): Event | undefined {
  return events.find((e) => e.t >= after && pred(e));
}

/** Per-hop durations (µs) of each echo found complete in both captures. */
function hops(a: Event[], b: Event[], tunA: string, tunB: string): Array<Record<Hop, number>> {
  const out: Array<Record<Hop, number>> = [];
  const seqs = new Set(a.filter((e) => e.kind === "req" && e.dev === tunA).map((e) => e.seq));
  for (const seq of seqs) {
    const t1 = first(a, 0, (e) => e.dev === tunA && e.out && e.kind === "req" && e.seq === seq);
    if (!t1) continue;
    const t2 = first(a, t1.t, (e) => e.dev !== tunA && e.out && e.kind === "udp");
    const t3 = t2 && first(b, t2.t, (e) => e.dev !== tunB && !e.out && e.kind === "udp");
    const t4 = first(b, 0, (e) => e.dev === tunB && !e.out && e.kind === "req" && e.seq === seq);
    const t5 = first(b, 0, (e) => e.dev === tunB && e.out && e.kind === "rep" && e.seq === seq);
    const t6 = t5 && first(b, t5.t, (e) => e.dev !== tunB && e.out && e.kind === "udp");
    const t7 = t6 && first(a, t6.t, (e) => e.dev !== tunA && !e.out && e.kind === "udp");
    const t8 = first(a, 0, (e) => e.dev === tunA && !e.out && e.kind === "rep" && e.seq === seq);
    if (!t2 || !t3 || !t4 || !t5 || !t6 || !t7 || !t8) continue;
    out.push({
      "seal a": t2.t - t1.t,
      wire: t3.t - t2.t,
      "open b": t4.t - t3.t,
      "kernel b": t5.t - t4.t,
      "seal b": t6.t - t5.t,
      "wire back": t7.t - t6.t,
      "open a": t8.t - t7.t,
    });
  }
  return out;
}

function capture(net: BenchNet, ns: string): Daemon {
  const filter = `icmp or udp port ${LISTEN_PORT.a} or udp port ${LISTEN_PORT.b}`;
  return net.spawn(ns, [
    "tcpdump",
    "-i",
    "any",
    "-n",
    "-l",
    "-tt",
    "--time-stamp-precision=nano",
    ...filter.split(" "),
  ]);
}

/**
 * Pings a → b `count` times `interval` s apart under two captures; returns the median of each
 * hop in µs (NaN where no echo could be followed end to end).
 */
export async function measureHops(
  net: BenchNet,
  count: number,
  interval: number,
): Promise<Record<Hop, number>> {
  const ca = capture(net, net.a);
  const cb = capture(net, net.b);
  try {
    await sleep(1000); // tcpdump is listening once it has printed its banner; be generous
    await net.exec(net.a, ["ping", "-n", "-c", String(count), "-i", String(interval), OVERLAY.b], {
      timeout: count * 1000 + 5000,
    });
    await sleep(300);
  } finally {
    await net.stop(ca);
    await net.stop(cb);
  }
  const rows = hops(parse(ca.output()), parse(cb.output()), net.ifname.a, net.ifname.b);
  const res = {} as Record<Hop, number>;
  for (const h of HOPS) res[h] = median(rows.map((r) => r[h]));
  return res;
}
