/**
 * Logging with wireguard-go's levels and environment contract (`LOG_LEVEL` = `verbose`/`debug`,
 * `error`, `silent`; default `error`, so the daemon is quiet unless asked). Lines look like
 * wireguard-go's: `DEBUG: (wg0) 2024/01/02 15:04:05 Interface up`. Secrets are never passed here.
 */
export type LogLevel = "silent" | "error" | "verbose";

export interface Logger {
  /** Something failed that the operator should know about. */
  error(message: string): void;
  /** Significant events (handshakes, endpoint changes, configuration) and diagnostics. */
  verbose(message: string): void;
}

/** A logger that drops everything (the default for embedders). */
export const silentLogger: Logger = {
  error() {},
  verbose() {},
};

/** Maps `LOG_LEVEL` the way wireguard-go's main.go does; anything else means `error`. */
export function logLevelFromEnv(value: string | undefined): LogLevel {
  switch (value) {
    case "verbose":
    case "debug":
      return "verbose";
    case "silent":
      return "silent";
    default:
      return "error";
  }
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A logger writing wireguard-go-style lines for interface `name` to `write` (default stdout). */
export function createLogger(
  level: LogLevel,
  name: string,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const tag = `(${name}) `;
  const line = (kind: string, message: string) =>
    write(`${kind}: ${tag}${timestamp(new Date())} ${message}\n`);
  return {
    error: level === "silent" ? () => {} : (m) => line("ERROR", m),
    verbose: level === "verbose" ? (m) => line("DEBUG", m) : () => {},
  };
}
