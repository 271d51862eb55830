/**
 * ICMP errors for a connection (RFC 5927, RFC 1122 §4.2.3.9, Linux tcp_v4_err/tcp_v6_err):
 * accepted only when the quoted sequence number is in [SND.UNA, SND.NXT]; unreachables abort a
 * connection still in its handshake and are otherwise kept as a soft error (reported instead of
 * ETIMEDOUT); EMSGSIZE (frag-needed / packet-too-big) lowers the MSS (RFC 1191, RFC 8201) and resend.
 */
import { sendData } from "./conn-output.js";
import type { Connection } from "./connection.js";
import { MIN_PEER_MSS } from "./constants.js";
import { seqDiff } from "./seq.js";
import { TcpError, type TcpIcmpError } from "./types.js";

/** Returns false when the error does not match the connection's outstanding data. */
export function connectionIcmp(
  c: Connection,
  seq: number,
  err: TcpIcmpError,
  now: number,
): boolean {
  const off = c.unaOff + seqDiff(seq, c.seqOf(c.unaOff));
  if (off < c.unaOff || off > c.maxOff) return false;
  if (err.code === "EMSGSIZE") {
    const mtu = err.mtu ?? 0;
    const min = c.v6 ? 1280 : 68;
    if (mtu < min) return false; // RFC 8201 §4: ignore a PTB below the IPv6 minimum
    const mtuMss = mtu - (c.v6 ? 60 : 40);
    if (mtuMss >= c.mtuMss) return true;
    c.mtuMss = mtuMss;
    const mss = Math.max(Math.min(c.peerMss, mtuMss) - (c.tsOk ? 12 : 0), MIN_PEER_MSS);
    if (mss < c.mss) {
      c.mss = mss;
      c.cc.setMss(mss);
      if (c.synchronized && c.maxOff > c.unaOff) {
        // Resend what was sent with the old size (Linux tcp_simple_retransmit).
        c.nxtOff = c.unaOff;
        c.rttOff = -1;
        sendData(c, now);
      }
    }
    return true;
  }
  const error = new TcpError(err.code, "ICMP error");
  if (c.state === "SYN_SENT" || c.state === "SYN_RECEIVED") {
    c.finish(error);
  } else {
    c.softError = error;
    // RFC 6069: an unreachable during a backoff reverts one doubling.
    if ((err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH") && c.rtt.backoff > 0) {
      c.rtt.backoff--;
    }
  }
  return true;
}
