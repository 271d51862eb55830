/**
 * Start-up handshake between a daemonising launcher and its daemon: the launcher passes a pipe as
 * the daemon's file descriptor WIRESPAN_READY_FD, and the daemon writes one line to it once its
 * socket serves. The launcher returns at that moment instead of polling the socket, and learns of
 * a failed start from the daemon's exit.
 */
import { closeSync, writeSync } from "node:fs";

export const READY_ENV = "WIRESPAN_READY_FD";
export const READY_LINE = "ready\n";

/** Tells a waiting launcher that the daemon serves (once; a no-op without a launcher). */
export function signalReady(env: NodeJS.ProcessEnv = process.env): void {
  const fd = Number(env[READY_ENV]);
  delete env[READY_ENV];
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, READY_LINE);
    closeSync(fd);
  } catch {
    // The launcher is gone (killed, timed out): nobody to tell.
  }
}
