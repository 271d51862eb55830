/**
 * The node's control socket: a unix socket in the state directory (mode 0600, like the UAPI
 * socket) answering `wirespan get`. One JSON request line per connection,
 * `{"kind":"peerstatuses","watch":false,"showSecrets":false}`; answers are JSON lines
 * `{"rows":[…]}` (the rows of resources.ts), or `{"error":"…"}`. With `watch` a new line is sent
 * whenever the rows change, until the client hangs up; a client that reads slowly gets the
 * latest rows, not every change in between.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { type ResourceKind, ResourceKinds, type ResourceRow } from "./resources.js";

/** File name of the control socket inside the state directory. */
export const ControlSocketName = "wirespan.sock";
/** Longest request line accepted. */
const MaxRequest = 4096;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, ControlSocketName);
}

export interface ControlRequest {
  readonly kind: ResourceKind;
  readonly watch?: boolean;
  readonly showSecrets?: boolean;
}

/** What the server serves: rows on demand and a change signal. */
export interface ControlSource {
  rows(kind: ResourceKind, options: { showSecrets: boolean }): ResourceRow[];
  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error("request is not JSON");
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || o === null || !ResourceKinds.includes(o.kind as ResourceKind)) {
    throw new Error(`unknown resource; expected one of ${ResourceKinds.join(", ")}`);
  }
  return {
    kind: o.kind as ResourceKind,
    watch: o.watch === true,
    showSecrets: o.showSecrets === true,
  };
}

/** JSON that carries bigint counters as decimal strings. */
function encode(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`;
}

export class ControlServer {
  private readonly connections = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** Listens on `path` (a stale socket file is replaced; a live one is an error). */
  static async listen(path: string, source: ControlSource): Promise<ControlServer> {
    if (existsSync(path)) {
      if (await isLive(path)) throw new Error(`${path}: another wirespan node is running`);
      unlinkSync(path);
    }
    let self: ControlServer | null = null;
    const server = createServer((conn) => self?.serve(conn, source));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // umask 077 while the socket is created: it is 0600 from its first moment.
      const old = process.umask(0o077);
      try {
        server.listen(path, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    chmodSync(path, 0o600);
    self = new ControlServer(path, server);
    return self;
  }

  private serve(conn: Socket, source: ControlSource): void {
    this.connections.add(conn);
    let buffer = "";
    let unsubscribe: (() => void) | null = null;
    conn.setEncoding("utf8");
    conn.on("error", () => {});
    conn.on("close", () => {
      this.connections.delete(conn);
      unsubscribe?.();
    });
    // One request per connection: once it is answered (or refused), later bytes are ignored
    // rather than buffered, so a client that keeps sending cannot grow the buffer or get a
    // second answer written after end().
    let answered = false;
    const answer = (text: string) => {
      answered = true;
      buffer = "";
      conn.end(text);
    };
    conn.on("data", (chunk: string) => {
      if (answered || unsubscribe !== null) return;
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl < 0 ? buffer.length > MaxRequest : nl > MaxRequest) {
        answer(encode({ error: "request too long" }));
        return;
      }
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = parseRequest(buffer.slice(0, nl));
      } catch (err) {
        answer(encode({ error: (err as Error).message }));
        return;
      }
      const opts = { showSecrets: req.showSecrets === true };
      let last = encode({ rows: source.rows(req.kind, opts) });
      if (!req.watch) {
        answer(last);
        return;
      }
      buffer = "";
      conn.write(last);
      // A client that does not read must not make us queue every change: while the socket's
      // buffer is above its high-water mark, changes only mark the view stale, and the latest
      // rows are sent once it drains (intermediate states are skipped, as a slow watcher
      // only needs the current one). Queued output stays under one answer past the mark.
      let stale = false;
      const push = () => {
        if (conn.destroyed) return;
        if (conn.writableNeedDrain) {
          stale = true;
          return;
        }
        stale = false;
        const next = encode({ rows: source.rows(req.kind, opts) });
        if (next !== last) {
          last = next;
          conn.write(next);
        }
      };
      conn.on("drain", () => {
        if (stale) push();
      });
      unsubscribe = source.subscribe(push);
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Errors from the client: the node is not running, or it refused the request. */
export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/**
 * Asks the node at `path` for `request`. Resolves with the rows; with `watch`, calls `onRows`
 * for every answer and resolves when the node closes the connection or `signal` aborts.
 */
export function controlRequest(
  path: string,
  request: ControlRequest,
  onRows?: (rows: ResourceRow[]) => void,
  signal?: AbortSignal,
): Promise<ResourceRow[]> {
  return new Promise((resolve, reject) => {
    const conn = connect(path);
    let buffer = "";
    let last: ResourceRow[] = [];
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      conn.destroy();
      if (err) reject(err);
      else resolve(last);
    };
    signal?.addEventListener("abort", () => finish(null), { once: true });
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(encode(request)));
    conn.on("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "ENOENT" || err.code === "ECONNREFUSED"
          ? `no wirespan node is running with control socket ${path}`
          : err.code === "EACCES"
            ? `${path}: permission denied (the control socket is 0600; run as its owner)`
            : err.message;
      finish(new ControlError(why));
    });
    conn.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg: { rows?: unknown; error?: unknown };
        try {
          msg = JSON.parse(line);
        } catch {
          return finish(new ControlError("malformed answer from the node (not JSON)"));
        }
        if (typeof msg !== "object" || msg === null) {
          return finish(new ControlError("malformed answer from the node"));
        }
        if (msg.error !== undefined) return finish(new ControlError(String(msg.error)));
        if (msg.rows !== undefined && !Array.isArray(msg.rows)) {
          return finish(new ControlError("malformed answer from the node (rows)"));
        }
        last = (msg.rows as ResourceRow[] | undefined) ?? [];
        onRows?.(last);
      }
    });
    conn.on("end", () => finish(null));
    conn.on("close", () => finish(null));
  });
}
