/**
 * A machine-wide lock on a suite's fixed names (interface names, and so the UAPI sockets
 * /var/run/wireguard/NAME.sock, which no namespace separates): a second run of the suite waits
 * here instead of failing on, or deleting, the first run's sockets. A lock whose owner is dead
 * is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

function lockDir(tag: string): string {
  return `/run/wirespan-test-${tag}.lock`;
}

/** Takes the lock on `tag`, waiting up to `timeout` ms for a live owner to release it. */
export async function lockNames(tag: string, timeout: number): Promise<void> {
  const dir = lockDir(tag);
  const start = Date.now();
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(`${dir}/pid`, String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(`${dir}/pid`, "utf8"));
    } catch {
      // being written right now, or left half-made by a killed run
    }
    let alive = false;
    if (owner > 0) {
      try {
        process.kill(owner, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (!alive && (owner > 0 || Date.now() > start + 2_000)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > start + timeout) {
      throw new Error(`another run (pid ${owner}) holds ${dir}; the names of ${tag} are busy`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Releases the lock on `tag` if this process holds it. */
export function unlockNames(tag: string): void {
  const dir = lockDir(tag);
  try {
    if (readFileSync(`${dir}/pid`, "utf8") === String(process.pid)) {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    // not ours or already gone
  }
}
