/**
 * SO_MARK (fwmark) on a node:dgram socket, so wg-quick's policy routing can exempt the tunnel's
 * own UDP from a full-tunnel route (reference §1.4 `fwmark`). Node's dgram cannot set it; the
 * batched-UDP addon of this package has `setSocketMark(fd, mark)` (and @wirespan/tun may offer
 * the same name). When neither is there we say so instead of pretending.
 */
import { nativeUdp } from "./native-udp.js";

type SetSocketMark = (fd: number, mark: number) => void;

// Loaded by name at run time so this package still works where that native addon is absent.
const tunSpecifier = "@wirespan/tun";
const tunModule: Record<string, unknown> | null = await import(tunSpecifier).catch(() => null);

/** The native setter, or null when no addon provides it. */
export function socketMarkSetter(): SetSocketMark | null {
  const udp = nativeUdp();
  if (udp) return (fd, mark) => udp.setSocketMark(fd, mark);
  const fn = tunModule?.setSocketMark;
  return typeof fn === "function" ? (fn as SetSocketMark) : null;
}
