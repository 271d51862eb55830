/** The netstack agent (agent.ts) as a child process with every capability dropped, and its JSON RPC. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  code?: string;
}

/** The unprivileged netstack process and its line-based JSON RPC. */
export class AgentProcess {
  readonly child: ChildProcess;
  #next = 1;
  #pending = new Map<number, (r: Reply) => void>();
  #stderr = "";
  readonly ready: Promise<void>;

  /** `env` adds variables (AGENT_NET=kernel selects node:net instead of the netstack). */
  constructor(ns: string, asNobody: boolean, env: NodeJS.ProcessEnv = {}) {
    const agent = join(import.meta.dirname, "agent.ts");
    // No capabilities in any set and no way to regain them: like an ordinary user.
    const user = asNobody ? ["--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const drop = [
      "--inh-caps=-all",
      "--ambient-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
    ];
    this.child = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        "setpriv",
        ...user,
        ...drop,
        process.execPath,
        // Sources, also outside vitest (which passes it in NODE_OPTIONS).
        "--conditions=@wirespan/source",
        "--import",
        "tsx",
        agent,
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, HOME: "/tmp", ...env } },
    );
    this.child.stderr?.on("data", (d) => {
      this.#stderr += String(d);
    });
    const lines = createInterface({ input: this.child.stdout! });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("exit", (code) => reject(new Error(`agent exited ${code}: ${this.#stderr}`)));
      lines.on("line", (line) => {
        const msg = JSON.parse(line) as Reply & { event?: string };
        if (msg.event === "ready") return resolve();
        this.#pending.get(msg.id)?.(msg);
        this.#pending.delete(msg.id);
      });
    });
  }

  async call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    const reply = await new Promise<Reply>((resolve) => {
      this.#pending.set(id, resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, op, args })}\n`);
    });
    if (!reply.ok)
      throw Object.assign(new Error(`${op}: ${reply.error}\n${this.#stderr}`), {
        code: reply.code,
      });
    return reply.result as T;
  }

  stop(): void {
    this.child.kill("SIGKILL");
  }
}
