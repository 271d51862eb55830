/**
 * The reference userspace stack for bench/netstack.ts (issue #8): slirp4netns (libslirp, a
 * TCP/IP stack in C) serving a namespace of its own. Namespace c has only a tap device that
 * slirp4netns, running in namespace a, terminates: the application's kernel TCP in c talks to
 * libslirp, which opens ordinary sockets in a toward the kernel services in b. So this path has
 * a userspace TCP/IP stack and no WireGuard — the cost of a C stack alone, next to ours.
 */
import { execFileSync } from "node:child_process";
import { AgentProcess } from "../test/netstack/agent-process.js";
import { type NetnsLab, waitFor } from "../test/support/netns.js";

/** Addresses inside namespace c (RFC 2544 benchmarking range, like the rest of the lab). */
const SLIRP_CIDR = "198.18.1.0/24";

/** True when the slirp4netns binary is on the PATH. */
export function slirpAvailable(): boolean {
  try {
    execFileSync("slirp4netns", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates namespace c behind slirp4netns (running in `outside`) with the given MTU, and starts
 * a kernel-TCP agent in it (same client code as the other paths). The agent reaches the
 * services at their underlay address through libslirp's NAT.
 */
export async function startSlirpPath(
  lab: NetnsLab,
  outside: string,
  mtu: number,
): Promise<AgentProcess> {
  const inside = await lab.addNamespace("c");
  const slirp = lab.spawn(outside, [
    "slirp4netns",
    "--configure",
    `--mtu=${mtu}`,
    `--cidr=${SLIRP_CIDR}`,
    "--disable-host-loopback",
    "--disable-dns",
    "--netns-type=path",
    `/run/netns/${inside}`,
    "tap0",
  ]);
  await waitFor(
    "slirp4netns to configure tap0",
    async () => {
      if (slirp.child.exitCode !== null) throw new Error(`slirp4netns exited: ${slirp.output()}`);
      return (await lab.must(inside, ["ip", "route", "show", "default"])).includes("tap0");
    },
    10_000,
  );
  const agent = new AgentProcess(inside, false, { AGENT_NET: "kernel" });
  await agent.ready;
  return agent;
}
