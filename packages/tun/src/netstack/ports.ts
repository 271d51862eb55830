/**
 * Ephemeral port choice (RFC 6056 §3.3.1, "simple port randomization") in Linux's
 * `ip_local_port_range` 32768–60999.
 */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;

/** A random free port in the range, probing linearly from a random start; null if all are taken. */
export function pickEphemeralPort(
  inUse: (port: number) => boolean,
  random: () => number,
): number | null {
  const n = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
  const start = Math.floor(random() * n);
  for (let i = 0; i < n; i++) {
    const port = EPHEMERAL_LOW + ((start + i) % n);
    if (!inUse(port)) return port;
  }
  return null;
}
