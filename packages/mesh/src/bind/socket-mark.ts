/**
 * SO_MARK (fwmark) on a node:dgram socket, so wg-quick's policy routing can exempt the tunnel's
 * own UDP from a full-tunnel route (reference §1.4 `fwmark`). Node's dgram cannot set it; the
 * batched-UDP addon of @wirespan/tun has `setSocketMark(fd, mark)`. When it is not there we say
 * so instead of pretending.
 */
import { nativeUdp } from "@wirespan/tun/internal";

type SetSocketMark = (fd: number, mark: number) => void;

/** The native setter, or null when the addon is absent (or WIRESPAN_NATIVE_UDP=0). */
export function socketMarkSetter(): SetSocketMark | null {
  const udp = nativeUdp();
  return udp ? (fd, mark) => udp.setSocketMark(fd, mark) : null;
}
