/**
 * `wirespan proxy` configuration: a wg-quick file (`[Interface]` PrivateKey, Address, DNS, MTU,
 * ListenPort; `[Peer]` PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive —
 * reference netstack.md §7.3) plus wireproxy's sections (§7.4): `[Socks5]`, `[http]`,
 * `[TCPClientTunnel]`, `[TCPServerTunnel]`, `[UDPProxyTunnel]`/`[UDPClientTunnel]`,
 * `[UDPServerTunnel]`, and our `[Health]`. A root `WGConfig = path` reads the WireGuard part
 * from another file, as wireproxy does. Every error names the file and line.
 */
import { isIP } from "node:net";
import { type Cidr, formatCidr, parseCidr, parseIp } from "@wirespan/noise";
import {
  type ConfigLine,
  type ConfigSection,
  ProxyConfigError,
  SectionReader,
  splitSections,
} from "./config-lines.js";
import type { BindAddress } from "./front-end.js";

export { ProxyConfigError } from "./config-lines.js";

export interface WgPeerConfig {
  readonly publicKey: Uint8Array;
  readonly presharedKey?: Uint8Array;
  /** host may be a name, resolved on the host when the device starts. */
  readonly endpoint?: { readonly host: string; readonly port: number };
  readonly allowedIps: readonly Cidr[];
  readonly persistentKeepalive: number;
}

export interface WgInterfaceConfig {
  /** Absent only when the WireGuard part comes through the UAPI (`wirespan-wg --netstack`). */
  readonly privateKey?: Uint8Array;
  readonly addresses: readonly Cidr[];
  /** DNS servers inside the tunnel (IP entries of `DNS =`). */
  readonly dns: readonly string[];
  /** Name entries of `DNS =` (search domains). */
  readonly searchDomains: readonly string[];
  readonly mtu: number;
  readonly listenPort?: number;
}

export interface Auth {
  readonly username: string;
  readonly password: string;
}

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface ProxyConfig {
  readonly interface: WgInterfaceConfig;
  readonly peers: readonly WgPeerConfig[];
  readonly socks5: ReadonlyArray<{ readonly listen: BindAddress; readonly credentials?: Auth }>;
  readonly http: ReadonlyArray<{ readonly listen: BindAddress; readonly credentials?: Auth }>;
  readonly tcpClientTunnels: ReadonlyArray<{
    readonly listen: BindAddress;
    readonly target: Target;
  }>;
  /** `listen.host` is empty: the tunnel side listens on all our tunnel addresses. */
  readonly tcpServerTunnels: ReadonlyArray<{
    readonly listen: BindAddress;
    readonly target: Target;
  }>;
  readonly udpClientTunnels: ReadonlyArray<{
    readonly listen: BindAddress;
    readonly target: Target;
    readonly idleMs: number;
  }>;
  readonly udpServerTunnels: ReadonlyArray<{
    readonly listen: BindAddress;
    readonly target: Target;
    readonly idleMs: number;
  }>;
  readonly health?: BindAddress;
}

/** wireproxy's default (§7.4); wg-quick derives it from the route instead. */
export const DefaultProxyMtu = 1420;
export const DefaultUdpIdleMs = 60_000;
const LOOPBACK = "127.0.0.1";
/** wg-quick keys that mean nothing without a kernel interface; accepted and ignored. */
const IGNORED_INTERFACE_KEYS = ["table", "saveconfig", "fwmark"];
const HOOKS = ["preup", "postup", "predown", "postdown"];

/** The keys each section takes (lower case). */
const SECTION_KEYS: Record<string, readonly string[]> = {
  interface: [
    "privatekey",
    "address",
    "dns",
    "mtu",
    "listenport",
    ...IGNORED_INTERFACE_KEYS,
    ...HOOKS,
  ],
  peer: ["publickey", "presharedkey", "endpoint", "allowedips", "persistentkeepalive"],
  socks5: ["bindaddress", "username", "password"],
  http: ["bindaddress", "username", "password"],
  tcpclienttunnel: ["bindaddress", "target"],
  tcpservertunnel: ["listenport", "target"],
  udpproxytunnel: ["bindaddress", "target", "inactivitytimeout"],
  udpclienttunnel: ["bindaddress", "target", "inactivitytimeout"],
  udpservertunnel: ["listenport", "target", "inactivitytimeout"],
  health: ["bindaddress"],
};

function key32(r: SectionReader, e: ConfigLine): Uint8Array {
  const b = /^[A-Za-z0-9+/]{43}=$/.test(e.value) ? Buffer.from(e.value, "base64") : null;
  if (b?.length !== 32) r.fail(`${e.key} must be a base64 WireGuard key (44 characters)`, e);
  return new Uint8Array(b);
}

/** `host:port`, `[v6]:port`; a name is allowed when `names`. */
export function parseHostPort(text: string, names: boolean): Target | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return null;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  if (
    !isIP(host) &&
    (!names ||
      !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(
        host,
      ) ||
      host.length > 253)
  ) {
    return null;
  }
  return { host, port };
}

function target(r: SectionReader, e: ConfigLine, names: boolean): Target {
  const t = parseHostPort(e.value, names);
  if (!t || t.port === 0)
    r.fail(
      `${e.key} must be host:port (IPv6 in brackets), got ${JSON.stringify(e.value.slice(0, 60))}`,
      e,
    );
  return t;
}

/** `BindAddress`: `host:port`, or a bare port on loopback. Listeners bind to loopback by default. */
function bindAddress(r: SectionReader, e: ConfigLine): BindAddress {
  if (/^[0-9]{1,5}$/.test(e.value) && Number(e.value) <= 65535)
    return { host: LOOPBACK, port: Number(e.value) };
  const t = parseHostPort(e.value, false);
  if (!t)
    r.fail(`${e.key} must be ip:port or a port, got ${JSON.stringify(e.value.slice(0, 60))}`, e);
  return t;
}

function auth(r: SectionReader): Auth | undefined {
  const u = r.one("username");
  const p = r.one("password");
  if (!u && !p) return undefined;
  if (!u || u.value === "") return r.fail(`[${r.section.title}] has a Password but no Username`, p);
  if (!p || p.value === "") return r.fail(`[${r.section.title}] has a Username but no Password`, u);
  if (u.value.includes(":")) r.fail("Username cannot contain ':' (RFC 7617 §2)", u);
  if (Buffer.byteLength(u.value) > 255 || Buffer.byteLength(p.value) > 255)
    r.fail("Username and Password are at most 255 bytes (RFC 1929)", u);
  return { username: u.value, password: p.value };
}

function cidrs(r: SectionReader, name: string, host: boolean): Cidr[] {
  return r.list(name).map(({ value, at }) => {
    try {
      if (value.includes("/")) return parseCidr(value);
      const ip = parseIp(value);
      return parseCidr(`${value}/${ip.length * 8}`);
    } catch {
      return r.fail(
        `${at.key}: ${JSON.stringify(value.slice(0, 60))} is not ${host ? "an address" : "a CIDR"}`,
        at,
      );
    }
  });
}

function readInterface(s: ConfigSection, keyOptional: boolean): WgInterfaceConfig {
  const r = new SectionReader(s);
  const key = keyOptional ? r.one("privatekey") : r.required("privatekey", "PrivateKey");
  const privateKey = key ? key32(r, key) : undefined;
  const addresses = cidrs(r, "address", true);
  const dns: string[] = [];
  const searchDomains: string[] = [];
  for (const { value, at } of r.list("dns")) {
    if (isIP(value)) dns.push(value);
    else if (/^[A-Za-z0-9.-]{1,253}$/.test(value)) searchDomains.push(value);
    else
      r.fail(`DNS entry ${JSON.stringify(value.slice(0, 60))} is neither an IP nor a domain`, at);
  }
  const mtu = r.int("mtu", 576, 65535) ?? DefaultProxyMtu;
  const listenPort = r.int("listenport", 0, 65535);
  for (const e of s.entries) {
    if (HOOKS.includes(e.name))
      r.fail(`${e.key} hooks are not run by wirespan proxy (no root, no interface)`, e);
  }
  r.rejectUnknown(IGNORED_INTERFACE_KEYS);
  return { privateKey, addresses, dns, searchDomains, mtu, listenPort };
}

function readPeer(s: ConfigSection): WgPeerConfig {
  const r = new SectionReader(s);
  const publicKey = key32(r, r.required("publickey", "PublicKey"));
  const psk = r.one("presharedkey");
  const ep = r.one("endpoint");
  const allowed = cidrs(r, "allowedips", false);
  const keepalive = r.int("persistentkeepalive", 0, 65535, true) ?? 0;
  r.rejectUnknown();
  return {
    publicKey,
    presharedKey: psk ? key32(r, psk) : undefined,
    endpoint: ep ? target(r, ep, true) : undefined,
    // wireproxy: a peer without AllowedIPs routes everything (§7.4).
    allowedIps: allowed.length > 0 ? allowed : [parseCidr("0.0.0.0/0"), parseCidr("::/0")],
    persistentKeepalive: keepalive,
  };
}

export interface ReadOptions {
  /**
   * PrivateKey and [Peer] sections may be absent: `wg`/`wg setconf` supply them through the UAPI
   * (`wirespan-wg --netstack -c FILE`); [Interface] then carries the stack's Address/DNS/MTU.
   */
  readonly wireguardOptional?: boolean;
  /** Reads the file a root `WGConfig = path` names (relative paths are the caller's concern). */
  readonly readFile?: (path: string) => string;
}

/** Parses a configuration; throws ProxyConfigError (file:line: message) on any mistake. */
export function parseProxyConfig(
  text: string,
  file = "config",
  opts: ReadOptions = {},
): ProxyConfig {
  let sections = splitSections(text, file);
  const root = new SectionReader(sections[0]);
  const include = root.one("wgconfig");
  root.rejectUnknown();
  if (include) {
    const read = opts.readFile;
    if (!read) return root.fail("WGConfig is not supported here", include);
    let inner: string;
    try {
      inner = read(include.value);
    } catch (err) {
      return root.fail(`WGConfig ${include.value}: ${(err as Error).message}`, include);
    }
    const wg = splitSections(inner, include.value);
    if (wg[0].entries.length > 0)
      throw new ProxyConfigError(
        "expected a section before the first key",
        include.value,
        wg[0].entries[0].line,
      );
    sections = [...sections, ...wg.slice(1)];
  }
  const out = {
    interface: undefined as WgInterfaceConfig | undefined,
    peers: [] as WgPeerConfig[],
    socks5: [] as Array<ProxyConfig["socks5"][number]>,
    http: [] as Array<ProxyConfig["http"][number]>,
    tcpClientTunnels: [] as Array<ProxyConfig["tcpClientTunnels"][number]>,
    tcpServerTunnels: [] as Array<ProxyConfig["tcpServerTunnels"][number]>,
    udpClientTunnels: [] as Array<ProxyConfig["udpClientTunnels"][number]>,
    udpServerTunnels: [] as Array<ProxyConfig["udpServerTunnels"][number]>,
    health: undefined as BindAddress | undefined,
  };
  for (const s of sections.slice(1)) {
    const r = new SectionReader(s);
    const keys = SECTION_KEYS[s.name];
    if (keys) r.allowOnly(keys);
    switch (s.name) {
      case "interface":
        if (out.interface) r.fail("a second [Interface] section");
        out.interface = readInterface(s, opts.wireguardOptional === true);
        continue;
      case "peer":
        out.peers.push(readPeer(s));
        continue;
      case "socks5":
      case "http": {
        const listen = bindAddress(r, r.required("bindaddress", "BindAddress"));
        const credentials = auth(r);
        r.rejectUnknown();
        out[s.name].push({ listen, credentials });
        continue;
      }
      case "tcpclienttunnel": {
        const listen = bindAddress(r, r.required("bindaddress", "BindAddress"));
        out.tcpClientTunnels.push({
          listen,
          target: target(r, r.required("target", "Target"), true),
        });
        break;
      }
      case "tcpservertunnel": {
        const port = r.int("listenport", 1, 65535) ?? r.fail("[TCPServerTunnel] needs ListenPort");
        out.tcpServerTunnels.push({
          listen: { host: "", port },
          target: target(r, r.required("target", "Target"), true),
        });
        break;
      }
      case "udpproxytunnel":
      case "udpclienttunnel": {
        const listen = bindAddress(r, r.required("bindaddress", "BindAddress"));
        const t = target(r, r.required("target", "Target"), true);
        const idle = r.int("inactivitytimeout", 0, 86_400);
        out.udpClientTunnels.push({
          listen,
          target: t,
          idleMs: idle === undefined ? DefaultUdpIdleMs : idle * 1000,
        });
        break;
      }
      case "udpservertunnel": {
        const port = r.int("listenport", 1, 65535) ?? r.fail("[UDPServerTunnel] needs ListenPort");
        const t = target(r, r.required("target", "Target"), true);
        const idle = r.int("inactivitytimeout", 0, 86_400);
        out.udpServerTunnels.push({
          listen: { host: "", port },
          target: t,
          idleMs: idle === undefined ? DefaultUdpIdleMs : idle * 1000,
        });
        break;
      }
      case "health":
        if (out.health) r.fail("a second [Health] section");
        out.health = bindAddress(r, r.required("bindaddress", "BindAddress"));
        break;
      default:
        r.fail(`unknown section [${s.title}]`);
    }
    r.rejectUnknown();
  }
  if (!out.interface) throw new ProxyConfigError("no [Interface] section", file, 0);
  if (out.peers.length === 0 && !opts.wireguardOptional) {
    throw new ProxyConfigError("no [Peer] section", file, 0);
  }
  return { ...out, interface: out.interface };
}

/** The peers as a UAPI `set=1` body (endpoints already resolved to IP literals). */
export function uapiSetBody(c: ProxyConfig, resolved: ReadonlyMap<WgPeerConfig, string>): string {
  const hex = (k: Uint8Array) => Buffer.from(k).toString("hex");
  const lines: string[] = [];
  if (c.interface.privateKey) lines.push(`private_key=${hex(c.interface.privateKey)}`);
  if (c.interface.listenPort !== undefined) lines.push(`listen_port=${c.interface.listenPort}`);
  if (c.peers.length === 0) return lines.length > 0 ? `${lines.join("\n")}\n` : "";
  lines.push("replace_peers=true");
  for (const p of c.peers) {
    lines.push(`public_key=${hex(p.publicKey)}`);
    if (p.presharedKey) lines.push(`preshared_key=${hex(p.presharedKey)}`);
    const ep = resolved.get(p);
    if (ep) lines.push(`endpoint=${ep}`);
    lines.push(
      `persistent_keepalive_interval=${p.persistentKeepalive}`,
      "replace_allowed_ips=true",
    );
    for (const a of p.allowedIps) lines.push(`allowed_ip=${formatCidr(a)}`);
  }
  return `${lines.join("\n")}\n`;
}
