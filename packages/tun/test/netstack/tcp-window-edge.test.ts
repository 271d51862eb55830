/**
 * The advertised right edge with window scaling (RFC 7323 §2.3, RFC 9293 §3.8.6.2.2): the window
 * field is rounded to a multiple of 2^Rcv.Wind.Shift, and the edge the peer computes from it is
 * the one it may send up to. The Linux kernel does send right up to it; when the receiver kept a
 * smaller edge for itself it refused those bytes, and once its window closed every later segment
 * of the peer (its ACKs included, at a SEG.SEQ past RCV.NXT) was out of window — a stall for good
 * (the TCP server tunnel, kernel as client, coord/proxy.md).
 */
import { expect, it } from "vitest";
import { F, parsed, tcb } from "./tcp-craft.js";
import { Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, writeAll } from "./tcp-pair.js";

it("never moves the advertised right edge left, and takes all data sent up to it", () => {
  const link = new Link(71);
  const pair = openPair(link, 80, false); // the client does not read: its window closes
  const c = tcb(pair.client.conn);
  expect(c.rcvWscale).toBeGreaterThan(0);
  const scale = 2 ** c.rcvWscale;
  const edges: number[] = [];
  link.filter = (to, seg) => {
    const p = parsed(seg);
    if (to === "b" && p.flags & F.ACK) edges.push((p.ack + p.window * scale) >>> 0);
    return true;
  };
  const data = pattern(3 * c.rcvCapacity + 12345, 5);
  let off = 0;
  for (let i = 0; i < 100 && c.rcvAdvRight !== c.rcvNxt; i++) {
    off += pair.server.conn.write(data.subarray(off));
    link.advance(100);
  }
  expect(c.rcvAdvRight).toBe(c.rcvNxt); // the client's window is closed, the server persists
  link.advance(5000);
  expect(edges.length).toBeGreaterThan(10);
  let right = edges[0];
  for (const e of edges) {
    // Signed 32-bit difference: an edge left of the rightmost one advertised is a shrink.
    expect((e - right) | 0).toBeGreaterThanOrEqual(0);
    right = e;
  }
  // Every byte up to the rightmost edge advertised was taken (the server's persist probes beyond
  // it are not, RFC 9293 §3.8.6.1).
  expect(c.rcvNxt).toBe(right);
  // The application drains: the transfer completes byte-exact.
  pair.client.autoRead = true;
  pair.client.drain();
  expect(writeAll(link, pair.server.conn, data.subarray(off))).toBe(true);
  expect(link.run(() => pair.client.received === data.length, 60_000)).toBe(true);
  expect(equalBytes(pair.client.bytes(), data)).toBe(true);
});
