/**
 * ICMP/ICMPv6 echo through the stack (wireguard-go netstack's DialPing, in the shape of a
 * promise): resolves with the round-trip time, rejects with ETIMEDOUT.
 */
import { formatIp, parseIp } from "../address.js";
import { now } from "./clock.js";
import type { StackDriver } from "./driver.js";
import { errnoException } from "./errors.js";

export interface PingOptions {
  /** Milliseconds to wait for the reply (default 5000). */
  timeout?: number;
  /** Payload bytes (default 56 zero-filled bytes, like ping(8)). */
  data?: Uint8Array;
}

export interface PingResult {
  address: string;
  /** Round-trip time in milliseconds. */
  time: number;
  sequence: number;
}

let nextSequence = 1;

export function ping(
  driver: StackDriver,
  address: string,
  opts: PingOptions = {},
): Promise<PingResult> {
  const dst = parseIp(address);
  if (dst === null)
    return Promise.reject(errnoException("EINVAL", `not an IP address: ${address}`));
  const icmp = driver.stack.icmp;
  let id = Math.floor(driver.stack.random() * 0x10000);
  for (let i = 0; i < 0x10000 && icmp.echoIdInUse(id); i++) id = (id + 1) & 0xffff;
  if (icmp.echoIdInUse(id))
    return Promise.reject(errnoException("EAGAIN", "no free echo identifier"));
  const sequence = nextSequence;
  nextSequence = (nextSequence + 1) & 0xffff;
  const data = opts.data ?? new Uint8Array(56);
  return new Promise((resolve, reject) => {
    const started = now();
    const timer = setTimeout(() => {
      icmp.onEchoReply(id, null);
      reject(errnoException("ETIMEDOUT", "no echo reply", "ping", address));
    }, opts.timeout ?? 5000);
    icmp.onEchoReply(id, (from, seq) => {
      if (seq !== sequence) return;
      clearTimeout(timer);
      icmp.onEchoReply(id, null);
      resolve({ address: formatIp(from), time: now() - started, sequence });
    });
    try {
      icmp.echoRequest(dst, id, sequence, data);
      driver.kick();
    } catch (err) {
      clearTimeout(timer);
      icmp.onEchoReply(id, null);
      reject(err);
    }
  });
}
