/**
 * Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5), with bounded
 * memory and time.
 *
 * - Any overlap discards the whole datagram (RFC 5722 for IPv6; the FragmentSmack defence for
 *   IPv4); an exact duplicate of a fragment already held is ignored.
 * - Memory: when the bytes held pass `highBytes` (Linux/gVisor: 4 MiB), the oldest datagrams are
 *   evicted until `lowBytes` (3 MiB) remain. A datagram holds at most `maxParts` fragments so the
 *   overlap check stays cheap under a flood of tiny fragments.
 * - Time: a datagram not complete within `timeoutMs` (IPv4 30 s like Linux; IPv6 60 s) is
 *   dropped; if its first fragment was held, the caller may answer ICMP Time Exceeded code 1.
 */
import type { DropReason } from "./counters.js";

export interface ReassemblyOptions {
  timeoutMs: number;
  highBytes?: number;
  lowBytes?: number;
  maxParts?: number;
}

/** Per-datagram bookkeeping cost added to its bytes, so many tiny datagrams also hit the limit. */
const ENTRY_OVERHEAD = 256;
const PART_OVERHEAD = 48;
/** RFC 791: a datagram is at most 65535 bytes. */
const MAX_DATAGRAM = 65535;

interface Part {
  offset: number;
  data: Uint8Array;
}

interface Pending {
  deadline: number;
  parts: Part[];
  received: number;
  /** Payload length, known once the last fragment (M=0) arrived; -1 before. */
  total: number;
  bytes: number;
  /** What an ICMP Time Exceeded would quote: the first fragment's header + 8 bytes. */
  quote: Uint8Array | null;
}

export type ReassemblyResult = Uint8Array | DropReason | null;

export class Reassembler {
  readonly #timeoutMs: number;
  readonly #high: number;
  readonly #low: number;
  readonly #maxParts: number;
  /** Insertion order = creation order = deadline order (one fixed timeout). */
  readonly #pending = new Map<string, Pending>();
  #bytes = 0;
  /** Datagrams evicted for memory since the last `takeEvicted()`. */
  #evicted = 0;

  constructor(opts: ReassemblyOptions) {
    this.#timeoutMs = opts.timeoutMs;
    this.#high = opts.highBytes ?? 4 << 20;
    this.#low = opts.lowBytes ?? 3 << 20;
    this.#maxParts = opts.maxParts ?? 256;
  }

  /** Bytes held (data plus bookkeeping estimate). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Adds one fragment; returns the reassembled payload when complete, a drop reason when the
   * datagram (or this fragment) is discarded, null while incomplete. `data` is copied.
   * `quote` (header + 8 bytes of the first fragment) is kept for Time Exceeded.
   */
  add(
    key: string,
    offset: number,
    more: boolean,
    data: Uint8Array,
    now: number,
    quote: Uint8Array | null,
  ): ReassemblyResult {
    const end = offset + data.length;
    if (end > MAX_DATAGRAM) return "fragment-invalid";
    // RFC 791/8200: every fragment but the last carries a multiple of 8 bytes.
    if (more && (data.length === 0 || (data.length & 7) !== 0)) return "fragment-invalid";
    let e = this.#pending.get(key);
    if (e === undefined) {
      e = {
        deadline: now + this.#timeoutMs,
        parts: [],
        received: 0,
        total: -1,
        bytes: ENTRY_OVERHEAD,
        quote: null,
      };
      this.#pending.set(key, e);
      this.#bytes += ENTRY_OVERHEAD;
    }
    for (const part of e.parts) {
      const pEnd = part.offset + part.data.length;
      if (offset < pEnd && part.offset < end) {
        if (part.offset === offset && pEnd === end && !more === (e.total === end)) return null;
        this.#remove(key, e);
        return "fragment-overlap";
      }
    }
    if (!more) {
      if (e.total !== -1 && e.total !== end) {
        this.#remove(key, e);
        return "fragment-overlap";
      }
      e.total = end;
    }
    if ((e.total !== -1 && end > e.total) || e.parts.length >= this.#maxParts) {
      this.#remove(key, e);
      return "fragment-invalid";
    }
    e.parts.push({ offset, data: data.slice() });
    e.received += data.length;
    const cost = data.length + PART_OVERHEAD;
    e.bytes += cost;
    this.#bytes += cost;
    if (offset === 0 && quote !== null) e.quote = quote.slice();
    if (e.total !== -1 && e.received === e.total) {
      this.#remove(key, e);
      const out = new Uint8Array(e.total);
      for (const part of e.parts) out.set(part.data, part.offset);
      return out;
    }
    if (this.#bytes > this.#high) this.#evict();
    return null;
  }

  /** Drops timed-out datagrams; returns the quotes of those whose first fragment was held. */
  expire(now: number, onExpired: (quote: Uint8Array | null) => void): void {
    for (const [key, e] of this.#pending) {
      if (e.deadline > now) break;
      this.#remove(key, e);
      onExpired(e.quote);
    }
  }

  nextDeadline(): number | null {
    for (const e of this.#pending.values()) return e.deadline;
    return null;
  }

  /** Number of datagrams evicted for memory since the last call. */
  takeEvicted(): number {
    const n = this.#evicted;
    this.#evicted = 0;
    return n;
  }

  #evict(): void {
    for (const [key, e] of this.#pending) {
      if (this.#bytes <= this.#low) break;
      this.#remove(key, e);
      this.#evicted++;
    }
  }

  #remove(key: string, e: Pending): void {
    this.#pending.delete(key);
    this.#bytes -= e.bytes;
  }
}
