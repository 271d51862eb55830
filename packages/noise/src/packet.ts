/**
 * The inner IP packet as the tunnel sees it: destination lookup on send, length validation
 * and padding trim on receive (reference §1.1 "Inner IPv4/IPv6 length validation"), and the
 * padding rule (whitepaper §5.4.6: pad to a multiple of 16, clamped to the MTU).
 */
import { MESSAGE_PADDING_MULTIPLE } from "./constants.js";

export const IPV4_HEADER_SIZE = 20;
export const IPV6_HEADER_SIZE = 40;

/** Offset and length of the destination address, or -1 when the packet is not IPv4/IPv6. */
export function destinationOffset(packet: Uint8Array): number {
  if (packet.length === 0) return -1;
  const version = packet[0] >> 4;
  if (version === 4 && packet.length >= IPV4_HEADER_SIZE) return 16;
  if (version === 6 && packet.length >= IPV6_HEADER_SIZE) return 24;
  return -1;
}

/**
 * Validates a decrypted packet and returns its true length (trimming the padding), or -1.
 * IPv4: total length ≥ 20 and ≤ buffer; IPv6: payload length + 40 ≤ buffer (wireguard-go
 * RoutineSequentialReceiver).
 */
export function innerPacketLength(p: Uint8Array, length: number): number {
  if (length < 1) return -1;
  const version = p[0] >> 4;
  if (version === 4) {
    if (length < IPV4_HEADER_SIZE) return -1;
    const total = (p[2] << 8) | p[3];
    return total < IPV4_HEADER_SIZE || total > length ? -1 : total;
  }
  if (version === 6) {
    if (length < IPV6_HEADER_SIZE) return -1;
    const total = ((p[4] << 8) | p[5]) + IPV6_HEADER_SIZE;
    return total > length ? -1 : total;
  }
  return -1;
}

/** Offset of the source address of a validated packet (12 for IPv4, 8 for IPv6). */
export function sourceOffset(p: Uint8Array): number {
  return p[0] >> 4 === 4 ? 12 : 8;
}

/** Address length of a packet's family: 4 or 16. */
export function addressLength(p: Uint8Array): 4 | 16 {
  return p[0] >> 4 === 4 ? 4 : 16;
}

/**
 * Bytes of zero padding after a `size`-byte plaintext: up to the next multiple of 16, but never
 * past the MTU (wireguard-go calculatePaddingSize).
 */
export function paddingSize(size: number, mtu: number): number {
  if (mtu <= 0) return (-size & (MESSAGE_PADDING_MULTIPLE - 1)) >>> 0;
  let last = size;
  if (last > mtu) last %= mtu;
  let padded = (last + MESSAGE_PADDING_MULTIPLE - 1) & ~(MESSAGE_PADDING_MULTIPLE - 1);
  if (padded > mtu) padded = mtu;
  return padded - last;
}
