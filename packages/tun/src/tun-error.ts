/**
 * Turns the errno of a failed TUN open into advice a user can act on. The original error is
 * kept as `cause`, and its `code` is carried over so callers can still branch on it.
 */
import type { NativeError } from "./native.js";

/** `TunError.code` when there is no kernel TUN here (no native addon for this platform). */
export const TUN_UNAVAILABLE = "ERR_TUN_UNAVAILABLE";

/**
 * An error about a TUN device. `code` is the errno name when the OS reported one (`EPERM`,
 * `EBUSY`, …), or {@link TUN_UNAVAILABLE}.
 */
export class TunError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TunError";
    this.code = code;
  }
}

/** The advice for a failed open (/dev/net/tun) or TUNSETIFF of interface `name`. */
export function explainOpenError(err: unknown, name: string): TunError {
  const e = err as NativeError;
  const code = e?.code;
  const detail = e instanceof Error ? e.message : String(err);
  switch (code) {
    case "EPERM":
    case "EACCES":
      return new TunError(
        "opening /dev/net/tun needs CAP_NET_ADMIN: run as root, or have an administrator " +
          `create the interface for you: ip tuntap add dev ${name} mode tun user $USER ` +
          `(then wirespan attaches to it) [${detail}]`,
        code,
        err,
      );
    case "ENOENT":
    case "ENODEV":
    case "ENXIO":
      return new TunError(
        "no /dev/net/tun: load the tun module (modprobe tun) or, in a container, pass " +
          `--device /dev/net/tun [${detail}]`,
        code,
        err,
      );
    case "EBUSY":
      return new TunError(
        `interface ${name} is already attached to another process (a single-queue TUN has ` +
          `one reader) [${detail}]`,
        code,
        err,
      );
    case "EINVAL":
      return new TunError(
        `interface ${name} exists but is not a TUN device, or was created with flags that ` +
          `differ (multi-queue, TAP) [${detail}]`,
        code,
        err,
      );
    default:
      return new TunError(`cannot open TUN interface ${name}: ${detail}`, code, err);
  }
}

/** The advice for an inherited descriptor (WG_TUN_FD) that is not a usable TUN. */
export function explainFdError(err: unknown, fd: number): TunError {
  const e = err as NativeError;
  const detail = e instanceof Error ? e.message : String(err);
  if (e?.code === "EBADF") {
    return new TunError(`fd ${fd} is not open in this process [${detail}]`, e.code, err);
  }
  return new TunError(
    `fd ${fd} is not an attached TUN device (IFF_TUN | IFF_NO_PI) [${detail}]`,
    e?.code,
    err,
  );
}
