/**
 * The UAPI socket `wg(8)` talks to (reference §1.4): a stream Unix socket at
 * `/var/run/wireguard/NAME.sock`, directory 0755, socket 0600.
 *
 * Framing, as wireguard-go's IpcHandle:
 * - `get=1\n\n` → `key=value\n` lines, then `errno=0\n\n`;
 * - `set=1\n` + lines + `\n` → `errno=N\n\n` (N ≤ 0; a failed set changes nothing);
 * - several requests share a connection;
 * - an unknown operation or a line longer than MAX_LINE closes the connection (we answer
 *   `errno=-EINVAL`/`-EIO` first, where wireguard-go just closes, so a client learns why).
 *
 * A stale socket (connect refused) is replaced; a live one means another daemon owns the name.
 * When the socket file is removed, `onRemoved` fires (wireguard-go's inotify watch, so
 * `rm -f /var/run/wireguard/wg0.sock` stops the daemon).
 */
import {
  chmodSync,
  existsSync,
  type FSWatcher,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  watch,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Logger } from "./logger.js";
import { DEFAULT_SOCKET_DIR, isSocketLive, uapiSocketPath } from "./socket-dir.js";

export { DEFAULT_SOCKET_DIR };

/** The two calls a UAPI socket needs; Device provides them. */
export interface UapiHandler {
  /** The full get answer body: `key=value\n` lines ending in `errno=0\n`. */
  ipcGet(): string;
  /** Applies a set request (`set=1\n…`); resolves to 0 or a negative errno. */
  ipcSet(text: string): Promise<number>;
}

/** Longest request line accepted (bufio.Scanner's default token limit in wireguard-go). */
export const MAX_LINE = 64 * 1024;
/** Largest set request accepted in total (thousands of peers fit comfortably). */
export const MAX_REQUEST = 32 * 1024 * 1024;

// Linux errno values, as written on the wire (negated).
const EIO = 5;
const EINVAL = 22;

export interface UapiServerOptions {
  readonly dir?: string;
  readonly logger?: Logger;
}

export class UapiServer {
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private readonly connections = new Set<Socket>();
  private removedHandlers: Array<() => void> = [];
  private closed = false;
  private ino = 0;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly logger: Logger | undefined,
  ) {}

  /** Socket path for interface `name`. */
  static socketPath(name: string, dir = DEFAULT_SOCKET_DIR): string {
    return uapiSocketPath(name, dir);
  }

  /**
   * Creates the socket for `name`, serving `handler`. Rejects with "interface NAME is already
   * in use" when a live daemon owns the socket.
   */
  static async listen(
    name: string,
    handler: UapiHandler,
    opts: UapiServerOptions = {},
  ): Promise<UapiServer> {
    if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(name)) throw new Error(`invalid interface name ${name}`);
    const dir = opts.dir ?? DEFAULT_SOCKET_DIR;
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const path = UapiServer.socketPath(name, dir);
    if (existsSync(path)) {
      if (await isSocketLive(path)) throw new Error(`interface ${name} is already in use`);
      unlinkSync(path);
    }
    // The socket is bound and listening under a temporary name first and then renamed into
    // place: `wg` unlinks a *.sock it cannot connect to (ECONNREFUSED), and between bind() and
    // listen() there is such a moment. rename() makes the final path appear ready.
    const temp = join(dir, `.${name}.${process.pid}.tmp`);
    rmSync(temp, { force: true });
    let self: UapiServer | null = null;
    // Half-open: `wg` may shut down its write side and still expects the answer.
    const server = createServer({ allowHalfOpen: true }, (conn) => self?.serve(conn, handler));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The socket is created inside listen(); umask 077 makes it 0600 from the first moment.
      const old = process.umask(0o077);
      try {
        server.listen(temp, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    try {
      chmodSync(temp, 0o600);
      renameSync(temp, path);
    } catch (err) {
      server.close();
      throw err;
    }
    self = new UapiServer(path, server, opts.logger);
    self.ino = statSync(path).ino;
    self.watch(dir);
    return self;
  }

  /** Called once when the socket file disappears or is replaced by another file. */
  onRemoved(handler: () => void): void {
    this.removedHandlers.push(handler);
  }

  private watch(dir: string): void {
    const check = () => {
      if (this.closed) return;
      let gone = false;
      try {
        gone = statSync(this.path).ino !== this.ino;
      } catch {
        gone = true;
      }
      if (gone) {
        this.stopWatching();
        const hs = this.removedHandlers;
        this.removedHandlers = [];
        for (const h of hs) h();
      }
    };
    try {
      this.watcher = watch(dir, { persistent: false }, () => check());
      this.watcher.on("error", () => {});
    } catch {
      this.watcher = null;
    }
    // inotify can miss a removal if the directory itself is replaced; a slow poll backs it up.
    this.poll = setInterval(check, 1000);
    this.poll.unref();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  private serve(conn: Socket, handler: UapiHandler): void {
    this.connections.add(conn);
    conn.on("close", () => this.connections.delete(conn));
    conn.on("error", () => {});
    const framer = new UapiFramer(
      handler,
      (text) => conn.write(text),
      (why) => {
        if (why) this.logger?.error(`UAPI: ${why}`);
        conn.end();
      },
    );
    conn.on("data", (chunk) => framer.push(chunk));
    conn.on("end", () => framer.end());
  }

  /** Stops listening, closes connections and removes the socket file (if it is still ours). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if (statSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      // already removed
    }
  }
}

/**
 * The request framing of one connection, independent of sockets so it can be tested directly.
 * Requests are handled strictly in order; answers are written in the same order.
 */
export class UapiFramer {
  private buf = "";
  private op: "get" | "set" | null = null;
  private setLines: string[] = [];
  private setSize = 0;
  private busy: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly handler: UapiHandler,
    private readonly write: (text: string) => void,
    /** Closes the connection; `why` is set when a protocol error caused it. */
    private readonly close: (why?: string) => void,
  ) {}

  push(chunk: Uint8Array | string): void {
    if (this.finished) return;
    this.buf += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("latin1");
    this.drain();
  }

  /** The peer closed its side: a set without its blank line is still applied (as wireguard-go). */
  end(): void {
    if (this.finished) return;
    if (this.op === "set") {
      if (this.buf.length > 0) this.setLines.push(this.buf);
      this.buf = "";
      this.dispatchSet();
    }
    this.finish();
  }

  private finish(why?: string): void {
    if (this.finished) return;
    this.finished = true;
    const close = this.close;
    void this.busy.then(() => close(why));
  }

  private fail(errno: number, why: string): void {
    const write = this.write;
    this.busy = this.busy.then(() => {
      write(`errno=-${errno}\n\n`);
    });
    this.finish(why);
  }

  private drain(): void {
    while (!this.finished) {
      const nl = this.buf.indexOf("\n");
      if (nl < 0) {
        if (this.buf.length > MAX_LINE)
          this.fail(this.op === "set" ? EIO : EINVAL, "line too long");
        return;
      }
      if (nl > MAX_LINE) {
        this.fail(this.op === "set" ? EIO : EINVAL, "line too long");
        return;
      }
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (this.op === null) {
        if (line === "get=1") this.op = "get";
        else if (line === "set=1") {
          this.op = "set";
          this.setLines = [];
          this.setSize = 0;
        } else {
          // The line itself is not logged: a confused client may have sent key material.
          this.fail(EINVAL, `invalid operation (${line.length} bytes)`);
          return;
        }
      } else if (this.op === "get") {
        // `get=1` must be followed by exactly an empty line.
        this.op = null;
        if (line !== "") {
          this.fail(EINVAL, "trailing characters in get");
          return;
        }
        const handler = this.handler;
        const write = this.write;
        this.busy = this.busy.then(() => {
          // A get that throws must not reject the chain: every later answer (and the close)
          // waits on it. The client gets an errno, as for a failed set, and the connection serves on.
          let answer: string;
          try {
            answer = `${handler.ipcGet()}\n`;
          } catch {
            answer = `errno=-${EIO}\n\n`;
          }
          write(answer);
        });
      } else if (line === "") {
        this.dispatchSet();
      } else {
        this.setSize += line.length + 1;
        if (this.setSize > MAX_REQUEST) {
          this.fail(EIO, "set request too large");
          return;
        }
        this.setLines.push(line);
      }
    }
  }

  private dispatchSet(): void {
    const body = this.setLines.length > 0 ? `${this.setLines.join("\n")}\n` : "";
    this.op = null;
    this.setLines = [];
    this.setSize = 0;
    const handler = this.handler;
    const write = this.write;
    this.busy = this.busy.then(async () => {
      let errno: number;
      try {
        errno = await handler.ipcSet(`set=1\n${body}\n`);
      } catch {
        errno = -EIO;
      }
      write(`errno=${errno}\n\n`);
    });
  }
}
