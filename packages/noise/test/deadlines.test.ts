/**
 * The Engine's timer bookkeeping grows with what changed, not with the number of peers
 * (issue #13 item 4), and the deadline order agrees with a scan of every peer.
 */
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { Deadlines } from "../src/engine/deadlines.js";
import { Peer } from "../src/peer.js";
import { PeerTimers } from "../src/timers.js";
import { hex, ipv4, pair } from "./support/net.js";

describe("Engine deadlines", () => {
  it("nextDeadline() looks only at peers whose timers changed", () => {
    const { net, a, b } = pair();
    // A thousand more peers on b, configured but idle.
    let body = "";
    for (let i = 0; i < 1000; i++) {
      const pk = new Uint8Array(32);
      pk[0] = 9;
      pk[1] = i & 0xff;
      pk[2] = i >> 8;
      body += `public_key=${hex(pk)}\nallowed_ip=10.${i >> 8}.${i & 0xff}.0/24\n`;
    }
    net.set(b, body);
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    b.engine.nextDeadline();
    const earliest = vi.spyOn(PeerTimers.prototype, "earliest");
    try {
      // One more packet: only the sending peer's timers move on b.
      net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
      const d = b.engine.nextDeadline();
      expect(d).not.toBeNull();
      expect(earliest.mock.calls.length).toBeLessThanOrEqual(3);
      earliest.mockClear();
      expect(b.engine.nextDeadline()).toBe(d);
      expect(earliest.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      earliest.mockRestore();
    }
  });
});

describe("Deadlines", () => {
  const op = fc.record({
    peer: fc.nat(7),
    timer: fc.constantFrom(
      "retransmitHandshake",
      "sendKeepalive",
      "newHandshake",
      "zeroKeyMaterial",
      "persistentKeepalive",
    ),
    at: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
    query: fc.constantFrom("none", "next", "due"),
    now: fc.integer({ min: 0, max: 1000 }),
  });

  it("next() and due() agree with a scan of every peer", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const d = new Deadlines();
        const peers = Array.from(
          { length: 8 },
          (_, i) =>
            new Peer(
              Uint8Array.of(i, ...new Uint8Array(31)),
              null as never,
              () => 0,
              () => {},
              (p) => d.touch(p),
            ),
        );
        const scan = () => {
          let best: number | null = null;
          for (const p of peers) {
            const e = p.timers.earliest();
            if (e !== null && (best === null || e < best)) best = e;
          }
          return best;
        };
        for (const o of ops) {
          peers[o.peer].timers[o.timer] = o.at;
          if (o.query === "next") expect(d.next()).toBe(scan());
          if (o.query === "due") {
            const want = peers.filter((p) => (p.timers.earliest() ?? Infinity) <= o.now);
            const got = d.due(o.now);
            expect(new Set(got)).toEqual(new Set(want));
            // As tick() does: a due peer's timers are run, here simply disarmed.
            for (const p of got) p.timers.stopAll();
          }
        }
        expect(d.next()).toBe(scan());
      }),
    );
  });
});
