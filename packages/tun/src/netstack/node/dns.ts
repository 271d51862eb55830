/**
 * Name resolution through DNS servers inside the tunnel (wg-quick's `DNS =`), like wireguard-go
 * netstack's LookupHost: A and AAAA in parallel for the families we have an address of, each
 * server in turn, two rounds. Messages are encoded by dns-packet (RFC 1035 / RFC 3596).
 */
import dnsPacket from "dns-packet";
import { formatIp, type IpAddress, parseIp } from "../address.js";
import type { StackDriver } from "./driver.js";
import { errnoException } from "./errors.js";

export interface LookupOptions {
  /** 4 or 6 restricts the answer; 0 (default) takes both, IPv4 first. */
  family?: 0 | 4 | 6;
  /** Milliseconds per query before the next server/round (default 2000). */
  timeout?: number;
}

export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

const ROUNDS = 2;

/** Resolves `name` to addresses; an IP literal resolves to itself. Rejects with ENOTFOUND. */
export async function lookup(
  driver: StackDriver,
  servers: readonly IpAddress[],
  name: string,
  opts: LookupOptions = {},
): Promise<LookupAddress[]> {
  const literal = parseIp(name);
  if (literal !== null)
    return [{ address: formatIp(literal), family: literal.length === 4 ? 4 : 6 }];
  if (servers.length === 0)
    throw errnoException(
      "ENOTFOUND",
      `no DNS servers configured to resolve ${name}`,
      "getaddrinfo",
      name,
    );
  const have = (f: 4 | 6) => driver.stack.addresses.some((a) => a.length === (f === 4 ? 4 : 16));
  const families = ([4, 6] as const)
    .filter((f) => (opts.family ?? 0) === 0 || opts.family === f)
    .filter((f) => have(f) || opts.family === f);
  const answers = await Promise.all(
    families.map((f) => query(driver, servers, name, f === 4 ? "A" : "AAAA", opts.timeout ?? 2000)),
  );
  const out: LookupAddress[] = [];
  answers.forEach((list, i) => {
    for (const a of list) out.push({ address: a, family: families[i] });
  });
  if (out.length === 0) throw errnoException("ENOTFOUND", `${name} not found`, "getaddrinfo", name);
  return out;
}

async function query(
  driver: StackDriver,
  servers: readonly IpAddress[],
  name: string,
  type: "A" | "AAAA",
  timeout: number,
): Promise<string[]> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) {
      const r = await exchange(driver, server, name, type, timeout);
      if (r !== null) return r;
    }
  }
  return [];
}

/** One UDP exchange; the answer's addresses, [] for NXDOMAIN/no data, null on timeout or failure. */
function exchange(
  driver: StackDriver,
  server: IpAddress,
  name: string,
  type: "A" | "AAAA",
  timeout: number,
): Promise<string[] | null> {
  return new Promise((resolve) => {
    let sock: ReturnType<typeof driver.stack.udpBind>;
    try {
      sock = driver.stack.udpBind(server.length === 4 ? 4 : 6);
      sock.connect(server, 53);
    } catch {
      resolve(null);
      return;
    }
    const id = Math.floor(driver.stack.random() * 0x10000);
    const finish = (v: string[] | null) => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeout);
    sock.handlers = {
      message: (data) => {
        let msg: dnsPacket.Packet;
        try {
          msg = dnsPacket.decode(Buffer.from(data));
        } catch {
          return; // malformed answer: keep waiting for a good one
        }
        if (msg.id !== id || msg.type !== "response") return;
        // dns-packet decodes the RCODE (RFC 1035 §4.1.1) into `rcode`; its types omit it.
        const rcode = (msg as { rcode?: string }).rcode;
        if (rcode !== undefined && rcode !== "NOERROR" && rcode !== "NXDOMAIN") return finish(null);
        const addrs = (msg.answers ?? [])
          .filter((a) => a.type === type)
          .map((a) => String((a as { data: unknown }).data));
        finish(addrs);
      },
      error: () => finish(null),
    };
    const q = dnsPacket.encode({
      type: "query",
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: "IN" }],
    });
    try {
      sock.send(q);
      driver.kick();
    } catch {
      finish(null);
    }
  });
}
