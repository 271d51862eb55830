/**
 * Where a rootless daemon puts its UAPI socket: `WG_SOCKET_DIR` when set, root's
 * /var/run/wireguard, otherwise the user's runtime directory (`$XDG_RUNTIME_DIR/wireguard`),
 * falling back to a per-user directory under the temporary directory.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SOCKET_DIR } from "./uapi-server.js";

export function uapiSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WG_SOCKET_DIR) return env.WG_SOCKET_DIR;
  if (process.getuid?.() === 0) return DEFAULT_SOCKET_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "wireguard");
  return join(tmpdir(), `wireguard-${process.getuid?.() ?? "user"}`);
}
