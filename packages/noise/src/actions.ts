/**
 * What the Engine answers to every input. The Engine never does I/O: the runtime (Device)
 * carries out these actions — sends datagrams, writes packets to the tunnel, logs events.
 */
import type { Endpoint } from "./endpoint.js";

/** A datagram to send on the UDP socket. `data` is owned by the caller once returned. */
export interface SendAction {
  readonly kind: "send";
  readonly to: Endpoint;
  readonly data: Uint8Array;
}

/** A decrypted, validated IP packet to write to the tunnel interface. */
export interface DeliverAction {
  readonly kind: "deliver";
  readonly data: Uint8Array;
}

/** Something worth logging or reacting to happened to a peer (hex public key). */
export interface PeerEventAction {
  readonly kind: "event";
  readonly peer: string;
  readonly event: PeerEvent;
}

export type PeerEvent =
  | { readonly type: "handshake-initiated" }
  | { readonly type: "handshake-completed"; readonly role: "initiator" | "responder" }
  | { readonly type: "handshake-gave-up" }
  | { readonly type: "endpoint-changed"; readonly endpoint: Endpoint }
  | { readonly type: "keys-zeroed" };

export type Action = SendAction | DeliverAction | PeerEventAction;
