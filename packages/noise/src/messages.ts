/**
 * Wire format of the four WireGuard messages (whitepaper §5.4.2–§5.4.7). All integers are
 * little-endian; the first u32 is the type (so the three "reserved" bytes must be zero, as the
 * kernel and wireguard-go read the type as a whole u32). Decoding never throws: anything
 * malformed is a typed reason. Decoded fields are views into the datagram (no copies).
 */
import {
  AEAD_TAG_SIZE,
  MAC_SIZE,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_TRANSPORT_DATA,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_MIN_SIZE,
} from "./constants.js";

/** Offsets inside a handshake initiation (148 bytes). */
export const INITIATION = {
  sender: 4,
  ephemeral: 8,
  static: 40,
  timestamp: 88,
  mac1: 116,
  mac2: 132,
} as const;
/** Offsets inside a handshake response (92 bytes). */
export const RESPONSE = {
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  empty: 44,
  mac1: 60,
  mac2: 76,
} as const;
/** Offsets inside a cookie reply (64 bytes). */
export const COOKIE_REPLY = { receiver: 4, nonce: 8, cookie: 32 } as const;
/** Offsets inside a transport message header. */
export const TRANSPORT = { receiver: 4, counter: 8, payload: 16 } as const;

export interface Initiation {
  readonly type: typeof MESSAGE_HANDSHAKE_INITIATION;
  readonly sender: number;
  /** 32 bytes. */
  readonly ephemeral: Uint8Array;
  /** 48 bytes: AEAD(static public key). */
  readonly encryptedStatic: Uint8Array;
  /** 28 bytes: AEAD(TAI64N). */
  readonly encryptedTimestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export interface Response {
  readonly type: typeof MESSAGE_HANDSHAKE_RESPONSE;
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  /** 16 bytes: AEAD(ε). */
  readonly encryptedNothing: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export interface CookieReply {
  readonly type: typeof MESSAGE_HANDSHAKE_COOKIE;
  readonly receiver: number;
  /** 24 bytes. */
  readonly nonce: Uint8Array;
  /** 32 bytes: XAEAD(cookie). */
  readonly encryptedCookie: Uint8Array;
}

export interface Transport {
  readonly type: typeof MESSAGE_TRANSPORT_DATA;
  readonly receiver: number;
  readonly counter: bigint;
  /** Ciphertext ‖ tag (≥ 16 bytes). */
  readonly ciphertext: Uint8Array;
}

export type Message = Initiation | Response | CookieReply | Transport;

export type DecodeFailure = "empty" | "unknown-type" | "bad-length";
export type DecodeResult =
  | { readonly ok: true; readonly message: Message }
  | { readonly ok: false; readonly reason: DecodeFailure };

export function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

export function readU64(b: Uint8Array, at: number): bigint {
  return BigInt(readU32(b, at)) | (BigInt(readU32(b, at + 4)) << 32n);
}

export function writeU64(b: Uint8Array, at: number, v: bigint): void {
  writeU32(b, at, Number(v & 0xffffffffn));
  writeU32(b, at + 4, Number((v >> 32n) & 0xffffffffn));
}

/** The message type (first u32), or 0 when the datagram is shorter than 4 bytes. */
export function messageType(data: Uint8Array): number {
  return data.length < 4 ? 0 : readU32(data, 0);
}

/** Decodes any WireGuard message with exact length checks. */
export function decodeMessage(data: Uint8Array): DecodeResult {
  if (data.length < 4) return { ok: false, reason: "empty" };
  switch (readU32(data, 0)) {
    case MESSAGE_HANDSHAKE_INITIATION:
      if (data.length !== MESSAGE_INITIATION_SIZE) return { ok: false, reason: "bad-length" };
      return {
        ok: true,
        message: {
          type: MESSAGE_HANDSHAKE_INITIATION,
          sender: readU32(data, INITIATION.sender),
          ephemeral: data.subarray(INITIATION.ephemeral, INITIATION.static),
          encryptedStatic: data.subarray(INITIATION.static, INITIATION.timestamp),
          encryptedTimestamp: data.subarray(INITIATION.timestamp, INITIATION.mac1),
          mac1: data.subarray(INITIATION.mac1, INITIATION.mac2),
          mac2: data.subarray(INITIATION.mac2, INITIATION.mac2 + MAC_SIZE),
        },
      };
    case MESSAGE_HANDSHAKE_RESPONSE:
      if (data.length !== MESSAGE_RESPONSE_SIZE) return { ok: false, reason: "bad-length" };
      return {
        ok: true,
        message: {
          type: MESSAGE_HANDSHAKE_RESPONSE,
          sender: readU32(data, RESPONSE.sender),
          receiver: readU32(data, RESPONSE.receiver),
          ephemeral: data.subarray(RESPONSE.ephemeral, RESPONSE.empty),
          encryptedNothing: data.subarray(RESPONSE.empty, RESPONSE.mac1),
          mac1: data.subarray(RESPONSE.mac1, RESPONSE.mac2),
          mac2: data.subarray(RESPONSE.mac2, RESPONSE.mac2 + MAC_SIZE),
        },
      };
    case MESSAGE_HANDSHAKE_COOKIE:
      if (data.length !== MESSAGE_COOKIE_REPLY_SIZE) return { ok: false, reason: "bad-length" };
      return {
        ok: true,
        message: {
          type: MESSAGE_HANDSHAKE_COOKIE,
          receiver: readU32(data, COOKIE_REPLY.receiver),
          nonce: data.subarray(COOKIE_REPLY.nonce, COOKIE_REPLY.cookie),
          encryptedCookie: data.subarray(COOKIE_REPLY.cookie, MESSAGE_COOKIE_REPLY_SIZE),
        },
      };
    case MESSAGE_TRANSPORT_DATA:
      if (data.length < MESSAGE_TRANSPORT_MIN_SIZE) return { ok: false, reason: "bad-length" };
      return {
        ok: true,
        message: {
          type: MESSAGE_TRANSPORT_DATA,
          receiver: readU32(data, TRANSPORT.receiver),
          counter: readU64(data, TRANSPORT.counter),
          ciphertext: data.subarray(TRANSPORT.payload),
        },
      };
    default:
      return { ok: false, reason: "unknown-type" };
  }
}

/** Encodes an initiation; mac1 and mac2 are left zero for the cookie generator to fill. */
export function encodeInitiation(
  m: Pick<Initiation, "sender" | "ephemeral" | "encryptedStatic" | "encryptedTimestamp">,
): Uint8Array {
  const b = new Uint8Array(MESSAGE_INITIATION_SIZE);
  writeU32(b, 0, MESSAGE_HANDSHAKE_INITIATION);
  writeU32(b, INITIATION.sender, m.sender);
  b.set(m.ephemeral, INITIATION.ephemeral);
  b.set(m.encryptedStatic, INITIATION.static);
  b.set(m.encryptedTimestamp, INITIATION.timestamp);
  return b;
}

/** Encodes a response; mac1 and mac2 are left zero for the cookie generator to fill. */
export function encodeResponse(
  m: Pick<Response, "sender" | "receiver" | "ephemeral" | "encryptedNothing">,
): Uint8Array {
  const b = new Uint8Array(MESSAGE_RESPONSE_SIZE);
  writeU32(b, 0, MESSAGE_HANDSHAKE_RESPONSE);
  writeU32(b, RESPONSE.sender, m.sender);
  writeU32(b, RESPONSE.receiver, m.receiver);
  b.set(m.ephemeral, RESPONSE.ephemeral);
  b.set(m.encryptedNothing, RESPONSE.empty);
  return b;
}

export function encodeCookieReply(m: Omit<CookieReply, "type">): Uint8Array {
  const b = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE);
  writeU32(b, 0, MESSAGE_HANDSHAKE_COOKIE);
  writeU32(b, COOKIE_REPLY.receiver, m.receiver);
  b.set(m.nonce, COOKIE_REPLY.nonce);
  b.set(m.encryptedCookie, COOKIE_REPLY.cookie);
  return b;
}

/**
 * Writes a transport header into `b` at 0; the caller seals the payload at offset 16.
 * Returns the total message length for a plaintext of `plaintextLength` bytes.
 */
export function writeTransportHeader(
  b: Uint8Array,
  receiver: number,
  counter: bigint,
  plaintextLength: number,
): number {
  writeU32(b, 0, MESSAGE_TRANSPORT_DATA);
  writeU32(b, TRANSPORT.receiver, receiver);
  writeU64(b, TRANSPORT.counter, counter);
  return MESSAGE_TRANSPORT_HEADER_SIZE + plaintextLength + AEAD_TAG_SIZE;
}
