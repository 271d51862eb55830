/**
 * errno values used by the cross-platform UAPI (reference §1.4 "Error convention"). They are
 * Linux's numbers, which wg(8) prints via strerror on every platform. wireguard-go writes them
 * negated on the wire (`errno=-22`), and −55 for errors it cannot classify; wg treats any
 * nonzero value as failure and reports `-errno`, so negative is the form that prints right.
 */
export const ENOENT = 2;
export const EIO = 5;
/** The device is closed: there is no interface to configure. */
export const ENODEV = 19;
export const EINVAL = 22;
export const EPROTO = 71;
export const EADDRINUSE = 98;
/** wireguard-go's `IpcErrorUnknown` (ipc/uapi_unix.go): written as −55. */
export const EUNKNOWN = 55;

/** A UAPI failure. `errno` is positive; the server writes `errno=-<errno>`. */
export class UapiError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = "UapiError";
  }
}

/** The value for the `errno=` line answering a failed operation: −errno, or −55 if unknown. */
export function uapiErrnoOf(err: unknown): number {
  return err instanceof UapiError ? -Math.abs(err.errno) : -EUNKNOWN;
}
