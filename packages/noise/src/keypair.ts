/**
 * Transport keypairs and the current / previous / next slots of a peer (whitepaper §5.4.5,
 * §6.1; reference §1.1 "Keypair slots", "Responder key confirmation").
 *
 * The responder may not send with a fresh keypair before the initiator proved it has it: the
 * responder's keypair waits in `next` until the first transport packet arrives on it.
 */
import { ReplayWindow } from "./replay.js";

export class Keypair {
  /** Exact 64-bit send counter; the next nonce to use. */
  sendCounter = 0n;
  readonly replay = new ReplayWindow();

  constructor(
    readonly sendKey: Uint8Array,
    readonly recvKey: Uint8Array,
    /** Monotonic ms of derivation. */
    readonly created: number,
    readonly isInitiator: boolean,
    /** Our index: transport packets to us carry it as receiver. */
    readonly localIndex: number,
    /** Their index: we write it as receiver. */
    readonly remoteIndex: number,
  ) {}

  zero(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
  }
}

export class Keypairs {
  current: Keypair | null = null;
  previous: Keypair | null = null;
  next: Keypair | null = null;

  /** `drop` frees a keypair leaving the slots (index table entry, key zeroing). */
  constructor(private readonly drop: (kp: Keypair) => void) {}

  private release(kp: Keypair | null): void {
    if (kp !== null) this.drop(kp);
  }

  /**
   * Installs a freshly derived keypair (wireguard-go BeginSymmetricSession). The initiator uses
   * it at once; the responder parks it in `next` until key confirmation.
   */
  install(kp: Keypair): void {
    const { previous, next, current } = this;
    if (kp.isInitiator) {
      if (next !== null) {
        this.next = null;
        this.previous = next;
        this.release(current);
      } else {
        this.previous = current;
      }
      this.release(previous);
      this.current = kp;
    } else {
      this.next = kp;
      this.release(next);
      this.previous = null;
      this.release(previous);
    }
  }

  /** A packet authenticated with `kp`: promote `next` to current. True if it did. */
  receivedWith(kp: Keypair): boolean {
    if (this.next !== kp) return false;
    this.release(this.previous);
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    return true;
  }

  clear(): void {
    this.release(this.previous);
    this.release(this.current);
    this.release(this.next);
    this.previous = this.current = this.next = null;
  }
}
