/** Node-style errors ({ code, errno, syscall, address, port }) for the adapter (netstack.md §6.1). */
import { constants } from "node:os";

export interface ErrnoError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

export function errnoException(
  code: string,
  message: string,
  syscall?: string,
  address?: string,
  port?: number,
): ErrnoError {
  const where = address === undefined ? "" : ` ${address}${port === undefined ? "" : `:${port}`}`;
  const e = new Error(syscall ? `${syscall} ${code}${where}` : `${code}: ${message}`) as ErrnoError;
  e.code = code;
  const n = (constants.errno as Record<string, number>)[code];
  if (n !== undefined) e.errno = -n;
  if (syscall !== undefined) e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}
