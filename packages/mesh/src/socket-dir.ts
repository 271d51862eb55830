/**
 * Where UAPI sockets live (reference §1.4): `/var/run/wireguard/NAME.sock` for root, and for a
 * rootless daemon `WG_SOCKET_DIR` when set, otherwise the user's runtime directory
 * (`$XDG_RUNTIME_DIR/wireguard`), falling back to a per-user directory under the temporary
 * directory. Kept free of the Device and the protocol so a launcher can use it cheaply.
 */
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEFAULT_SOCKET_DIR = "/var/run/wireguard";

export function uapiSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WG_SOCKET_DIR) return env.WG_SOCKET_DIR;
  if (process.getuid?.() === 0) return DEFAULT_SOCKET_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "wireguard");
  return join(tmpdir(), `wireguard-${process.getuid?.() ?? "user"}`);
}

/** Socket path for interface `name`. */
export function uapiSocketPath(name: string, dir = DEFAULT_SOCKET_DIR): string {
  return join(dir, `${name}.sock`);
}

/** Whether something accepts connections on the Unix socket at `path` (1 s at most). */
export function isSocketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    const done = (live: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(false), 1000);
    timer.unref();
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
}
