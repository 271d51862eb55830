/**
 * SO_MARK (fwmark) on a socket, so wg-quick's policy routing can exempt the tunnel's own UDP
 * from a full-tunnel route (reference §1.4 `fwmark`). Node's dgram cannot set it; the native
 * helper is expected from @wirespan/tun as `setSocketMark(fd, mark)`. When it is missing we say
 * so instead of pretending.
 */
type SetSocketMark = (fd: number, mark: number) => void;

// Loaded by name at run time so this package still works where the native addon is absent.
const tunSpecifier = "@wirespan/tun";
const tunModule: Record<string, unknown> | null = await import(tunSpecifier).catch(() => null);

/** The native setter, or null when @wirespan/tun does not provide it. */
export function socketMarkSetter(): SetSocketMark | null {
  const fn = tunModule?.setSocketMark;
  return typeof fn === "function" ? (fn as SetSocketMark) : null;
}
