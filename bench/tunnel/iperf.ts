/**
 * iperf3 through the tunnel (client in namespace a, server in namespace b) and ping RTT.
 * iperf3's JSON output (-J) is parsed; nothing is scraped from human-readable text.
 */
import type { Daemon } from "../../test/support/netns.js";
import { type BenchNet, OVERLAY } from "./netns.js";

export const IPERF_PORT = 5_291;

/** Starts the iperf3 server in namespace b for the whole run. */
export function startIperfServer(net: BenchNet): Daemon {
  return net.spawn(net.b, ["iperf3", "-s", "-p", String(IPERF_PORT)]);
}

interface IperfInterval {
  sum: { bytes: number; seconds: number; omitted?: boolean };
}

interface IperfJson {
  error?: string;
  intervals?: IperfInterval[];
  end?: {
    sum_sent?: { bytes: number; seconds: number; bits_per_second: number; retransmits?: number };
    sum_received?: { bytes: number; seconds: number; bits_per_second: number };
    sum?: {
      bytes: number;
      seconds: number;
      packets: number;
      lost_packets: number;
      bits_per_second: number;
    };
  };
}

async function iperf(net: BenchNet, args: string[], seconds: number): Promise<IperfJson> {
  const r = await net.exec(
    net.a,
    ["iperf3", "-c", OVERLAY.b, "-p", String(IPERF_PORT), "-J", "-t", String(seconds), ...args],
    { timeout: (seconds + 30) * 1000 },
  );
  let json: IperfJson;
  try {
    json = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 ${args.join(" ")}: no JSON (exit ${r.code}): ${r.stderr}`);
  }
  if (json.error) throw new Error(`iperf3 ${args.join(" ")}: ${json.error}`);
  return json;
}

export interface TcpResult {
  /** Goodput received, bit/s, excluding the omitted warm-up second. */
  bitsPerSecond: number;
  /** Bytes sent over the whole run including warm-up (for CPU per byte). */
  totalBytes: number;
  retransmits: number;
}

/**
 * One TCP stream a → b for `seconds` (+1 s warm-up, omitted from the rate); at most `rateBps`
 * when given (a long soak need not take the shared machine's every cycle).
 */
export async function tcp(net: BenchNet, seconds: number, rateBps?: number): Promise<TcpResult> {
  const limit = rateBps === undefined ? [] : ["-b", String(Math.round(rateBps))];
  const j = await iperf(net, ["-O", "1", ...limit], seconds);
  const totalBytes = (j.intervals ?? []).reduce((s, i) => s + i.sum.bytes, 0);
  return {
    bitsPerSecond: j.end?.sum_received?.bits_per_second ?? Number.NaN,
    totalBytes,
    retransmits: j.end?.sum_sent?.retransmits ?? 0,
  };
}

export interface UdpResult {
  /** Datagrams the receiver got per second. */
  receivedPps: number;
  /** Fraction of sent datagrams lost. */
  loss: number;
}

/**
 * UDP a → b with 1392-byte payloads, i.e. 1420-byte inner IP packets (the tunnel MTU), offered
 * at `rateBps`: receivedPps is what the tunnel delivers when offered more than it can carry.
 */
export async function udp(net: BenchNet, seconds: number, rateBps = 4e9): Promise<UdpResult> {
  const j = await iperf(net, ["-u", "-l", "1392", "-b", String(rateBps)], seconds);
  const s = j.end?.sum;
  if (!s) return { receivedPps: Number.NaN, loss: Number.NaN };
  return {
    receivedPps: (s.packets - s.lost_packets) / s.seconds,
    loss: s.packets > 0 ? s.lost_packets / s.packets : Number.NaN,
  };
}

/**
 * Round-trip times in ms of `count` pings a → b through the tunnel, `interval` seconds apart
 * (50 ms: each ping finds the daemons idle; 2 ms: they stay awake — on a VM the gap between the
 * two is mostly the cost of waking an idle vCPU and a cold process).
 */
export async function pingRtts(
  net: BenchNet,
  count = 20,
  interval = 0.05,
  dest: string = OVERLAY.b,
): Promise<number[]> {
  const r = await net.exec(
    net.a,
    ["ping", "-n", "-c", String(count), "-i", String(interval), dest],
    {
      timeout: count * 1000 + 5000,
    },
  );
  const rtts: number[] = [];
  for (const m of r.stdout.matchAll(/time=([\d.]+) ms/g)) rtts.push(Number(m[1]));
  return rtts;
}
