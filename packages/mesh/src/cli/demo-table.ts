/** The peer status table `pnpm start` prints (demo.ts, demo-nat.ts): one row per node and peer. */
import type { LocalNode } from "../kubespan/local-mesh.js";

export function statusTable(nodes: readonly LocalNode[], t0: number): string {
  const header = ["NODE", "PEER", "ENDPOINT", "STATE", "PATH", "RX", "TX"];
  const rows: string[][] = [];
  for (const n of nodes) {
    for (const s of n.node.peerStatuses().sort((a, b) => a.label.localeCompare(b.label))) {
      rows.push([
        n.config.hostname,
        s.label,
        s.endpoint ?? "",
        s.state,
        // Without NAT traversal configured there is no path choice: WireGuard's endpoint is it.
        s.path?.path ?? "-",
        String(s.receiveBytes),
        String(s.transmitBytes),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [`t+${Date.now() - t0} ms`, fmt(header), ...rows.map(fmt)].join("\n");
}

/** Prints the table whenever a row changes (the time line aside) until `done` says stop. */
export function watchTable(
  nodes: readonly LocalNode[],
  t0: number,
  say: (line: string) => void,
  done: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let last = "";
    let finished = false;
    const show = () => {
      if (finished) return;
      const table = statusTable(nodes, t0);
      const rows = table.slice(table.indexOf("\n"));
      if (rows !== last && rows.includes("\n", 1)) {
        last = rows;
        say(`\n${table}`);
      }
      if (done()) stop(true);
    };
    const timer = setTimeout(() => stop(false), timeoutMs);
    // Path changes are not node events: look twice a second as well.
    const poll = setInterval(show, 500);
    const stop = (ok: boolean) => {
      finished = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const n of nodes) n.node.off("change", show);
      resolve(ok);
    };
    for (const n of nodes) n.node.on("change", show);
    show();
  });
}
