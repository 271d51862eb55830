/**
 * The cross-platform UAPI text codec (reference §1.4; wireguard.com/xplatform), matching
 * wireguard-go's device/uapi.go. Pure: `parseSet` turns a `set=1` body into a request the
 * engine then applies, `formatGet` prints a snapshot. Neither touches device state.
 *
 * Order-dependent details of wireguard-go and how they map onto the request:
 * - Device keys are only valid before the first `public_key`; after it, keys belong to that peer.
 * - `update_only`, `remove` and `replace_peers` act as flags (their effect in wireguard-go does
 *   not depend on where in the section they appear).
 * - `replace_allowed_ips=true` removes the peer's prefixes at that point of the stream, so any
 *   `allowed_ip` lines of the same peer before it are dropped from the request.
 * - A peer whose public key equals the device's own is ignored by wireguard-go; recognising it
 *   needs the private key, so the engine does that (this parser still validates its lines).
 */
import { type Cidr, formatCidr, parseCidr } from "./cidr.js";
import { type Endpoint, formatEndpoint, parseEndpoint } from "./endpoint.js";
import { EINVAL, EPROTO, UapiError } from "./errno.js";

export interface AllowedIpChange {
  readonly cidr: Cidr;
  /** `allowed_ip=-CIDR`: remove the prefix if this peer owns it. */
  readonly remove: boolean;
}

export interface PeerRequest {
  readonly publicKey: Uint8Array;
  remove: boolean;
  updateOnly: boolean;
  /** null = remove (all-zero key given). Absent = unchanged. */
  presharedKey?: Uint8Array | null;
  endpoint?: Endpoint;
  persistentKeepalive?: number;
  replaceAllowedIps: boolean;
  allowedIps: AllowedIpChange[];
}

export interface SetRequest {
  /** null = remove (all-zero key given). Absent = unchanged. */
  privateKey?: Uint8Array | null;
  listenPort?: number;
  /** 0 = remove. */
  fwmark?: number;
  replacePeers: boolean;
  peers: PeerRequest[];
}

export interface PeerSnapshot {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  /** Unix epoch ns of the last completed handshake; 0n = never. */
  lastHandshakeNs: bigint;
  txBytes: bigint;
  rxBytes: bigint;
  persistentKeepalive: number;
  allowedIps: Cidr[];
}

/** A peer's live counters only: what a controller polls, without copying keys or allowed IPs. */
export type PeerActivity = Pick<
  PeerSnapshot,
  "endpoint" | "lastHandshakeNs" | "txBytes" | "rxBytes"
>;

export interface DeviceSnapshot {
  privateKey: Uint8Array | null;
  listenPort: number;
  fwmark: number;
  peers: PeerSnapshot[];
}

const KEY_LEN = 32;
const HEX = "0123456789abcdef";
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** 64 lowercase hex digits. */
export function hexKey(k: Uint8Array): string {
  if (k.length !== KEY_LEN)
    throw new UapiError(EINVAL, `key must be ${KEY_LEN} bytes, got ${k.length}`);
  let s = "";
  for (let i = 0; i < KEY_LEN; i++) s += HEX[k[i] >> 4] + HEX[k[i] & 15];
  return s;
}

/** Parses 64 hex digits (wireguard-go, via Go's hex decoder, also takes uppercase). */
export function parseHexKey(s: string): Uint8Array {
  if (typeof s !== "string" || !HEX_KEY.test(s)) {
    throw new UapiError(EINVAL, "key must be 64 hex digits");
  }
  const k = new Uint8Array(KEY_LEN);
  for (let i = 0; i < KEY_LEN; i++) k[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return k;
}

function isZero(k: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < k.length; i++) acc |= k[i];
  return acc === 0;
}

/** Go's strconv.ParseUint(value, 10, bits): decimal digits only, within range. */
function parseUint(key: string, value: string, max: number): number {
  if (!/^[0-9]+$/.test(value)) throw new UapiError(EINVAL, `${key}: not a decimal number`);
  const digits = value.replace(/^0+(?=.)/, "");
  if (digits.length > 10 || Number(digits) > max) {
    throw new UapiError(EINVAL, `${key}: out of range 0..${max}`);
  }
  return Number(digits);
}

function parseTrue(key: string, value: string): true {
  if (value !== "true") throw new UapiError(EINVAL, `${key}: invalid value (only "true")`);
  return true;
}

/**
 * Parses the key=value lines of a `set=1` operation (after `set=1\n`, without the blank line
 * that ends it). Throws UapiError: EPROTO for a line without `=`, EINVAL for unknown keys and
 * bad values. Never throws anything else.
 */
export function parseSet(body: string): SetRequest {
  if (typeof body !== "string") throw new UapiError(EPROTO, "set body must be text");
  const req: SetRequest = { replacePeers: false, peers: [] };
  let peer: PeerRequest | null = null;
  const text = body.endsWith("\n") ? body.slice(0, -1) : body;
  if (text === "") return req;
  for (const raw of text.split("\n")) {
    // bufio.ScanLines drops one trailing CR, so CRLF input behaves as LF input.
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") throw new UapiError(EPROTO, "blank line inside a set operation");
    const eq = line.indexOf("=");
    if (eq === -1)
      throw new UapiError(EPROTO, `failed to parse line ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "public_key") {
      peer = {
        publicKey: parseHexKey(value),
        remove: false,
        updateOnly: false,
        replaceAllowedIps: false,
        allowedIps: [],
      };
      req.peers.push(peer);
    } else if (peer === null) {
      deviceLine(req, key, value);
    } else {
      peerLine(peer, key, value);
    }
  }
  return req;
}

function deviceLine(req: SetRequest, key: string, value: string): void {
  switch (key) {
    case "private_key": {
      const k = parseHexKey(value);
      req.privateKey = isZero(k) ? null : k;
      return;
    }
    case "listen_port":
      req.listenPort = parseUint(key, value, 0xffff);
      return;
    case "fwmark":
      req.fwmark = parseUint(key, value, 0xffffffff);
      return;
    case "replace_peers":
      req.replacePeers = parseTrue(key, value);
      return;
    default:
      throw new UapiError(EINVAL, `invalid UAPI device key: ${JSON.stringify(key.slice(0, 80))}`);
  }
}

function peerLine(peer: PeerRequest, key: string, value: string): void {
  switch (key) {
    case "update_only":
      peer.updateOnly = parseTrue(key, value);
      return;
    case "remove":
      peer.remove = parseTrue(key, value);
      return;
    case "preshared_key": {
      const k = parseHexKey(value);
      peer.presharedKey = isZero(k) ? null : k;
      return;
    }
    case "endpoint":
      try {
        peer.endpoint = parseEndpoint(value);
      } catch (e) {
        throw new UapiError(EINVAL, (e as Error).message);
      }
      return;
    case "persistent_keepalive_interval":
      peer.persistentKeepalive = parseUint(key, value, 0xffff);
      return;
    case "replace_allowed_ips":
      parseTrue(key, value);
      peer.replaceAllowedIps = true;
      // Earlier allowed_ip lines of this peer would be wiped by the replace (see file comment).
      peer.allowedIps.length = 0;
      return;
    case "allowed_ip": {
      const remove = value.startsWith("-");
      const text = remove ? value.slice(1) : value;
      // netip.ParsePrefix: the /bits part is mandatory.
      if (!text.includes("/")) throw new UapiError(EINVAL, "allowed_ip: missing /prefix-length");
      try {
        peer.allowedIps.push({ cidr: parseCidr(text), remove });
      } catch (e) {
        throw new UapiError(EINVAL, `allowed_ip: ${(e as Error).message}`);
      }
      return;
    }
    case "protocol_version":
      // wireguard-go answers EINVAL here (device/uapi.go), so do we.
      if (value !== "1") throw new UapiError(EINVAL, "invalid protocol version (only 1)");
      return;
    default:
      throw new UapiError(EINVAL, `invalid UAPI peer key: ${JSON.stringify(key.slice(0, 80))}`);
  }
}

const NS_PER_S = 1_000_000_000n;

/**
 * The key=value lines of a `get=1` reply in wireguard-go's order, each ending in "\n", without
 * the final `errno=0\n\n` (the server adds it). Like wireguard-go there is no public-key line:
 * wg derives it from `private_key`.
 */
export function formatGet(s: DeviceSnapshot): string {
  const out: string[] = [];
  if (s.privateKey !== null && !isZero(s.privateKey))
    out.push(`private_key=${hexKey(s.privateKey)}`);
  if (s.listenPort !== 0) out.push(`listen_port=${s.listenPort}`);
  if (s.fwmark !== 0) out.push(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    out.push(`public_key=${hexKey(p.publicKey)}`);
    out.push(`preshared_key=${hexKey(p.presharedKey ?? new Uint8Array(KEY_LEN))}`);
    out.push("protocol_version=1");
    if (p.endpoint !== null) out.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    out.push(`last_handshake_time_sec=${p.lastHandshakeNs / NS_PER_S}`);
    out.push(`last_handshake_time_nsec=${p.lastHandshakeNs % NS_PER_S}`);
    out.push(`tx_bytes=${p.txBytes}`);
    out.push(`rx_bytes=${p.rxBytes}`);
    out.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    for (const c of p.allowedIps) out.push(`allowed_ip=${formatCidr(c)}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/**
 * The inverse of `parseSet`, for clients that configure a device through the UAPI (and for
 * round-trip tests). Lines are emitted in the order wg(8) uses.
 */
export function formatSet(r: SetRequest): string {
  const out: string[] = [];
  if (r.privateKey !== undefined)
    out.push(`private_key=${hexKey(r.privateKey ?? new Uint8Array(KEY_LEN))}`);
  if (r.listenPort !== undefined) out.push(`listen_port=${r.listenPort}`);
  if (r.fwmark !== undefined) out.push(`fwmark=${r.fwmark}`);
  if (r.replacePeers) out.push("replace_peers=true");
  for (const p of r.peers) {
    out.push(`public_key=${hexKey(p.publicKey)}`);
    if (p.remove) out.push("remove=true");
    if (p.updateOnly) out.push("update_only=true");
    if (p.presharedKey !== undefined) {
      out.push(`preshared_key=${hexKey(p.presharedKey ?? new Uint8Array(KEY_LEN))}`);
    }
    if (p.endpoint !== undefined) out.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    if (p.persistentKeepalive !== undefined) {
      out.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    }
    if (p.replaceAllowedIps) out.push("replace_allowed_ips=true");
    for (const a of p.allowedIps)
      out.push(`allowed_ip=${a.remove ? "-" : ""}${formatCidr(a.cidr)}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/**
 * Parses a `get=1` reply body (the lines before `errno=`) back into a snapshot; for clients
 * and tests that read a device's state (ours or wireguard-go's). Throws UapiError(EPROTO).
 */
export function parseGet(text: string): DeviceSnapshot {
  const s: DeviceSnapshot = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let p: PeerSnapshot | null = null;
  const bad = (line: string): never => {
    throw new UapiError(EPROTO, `unexpected get line ${JSON.stringify(line.slice(0, 80))}`);
  };
  const big = (line: string, v: string): bigint => (/^[0-9]+$/.test(v) ? BigInt(v) : bad(line));
  let nsec = 0n;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const eq = line.indexOf("=");
    if (eq === -1) bad(line);
    const key = line.slice(0, eq);
    const v = line.slice(eq + 1);
    try {
      if (key === "public_key") {
        p = {
          publicKey: parseHexKey(v),
          presharedKey: null,
          endpoint: null,
          lastHandshakeNs: 0n,
          txBytes: 0n,
          rxBytes: 0n,
          persistentKeepalive: 0,
          allowedIps: [],
        };
        s.peers.push(p);
        nsec = 0n;
      } else if (p === null) {
        if (key === "private_key") {
          const k = parseHexKey(v);
          s.privateKey = isZero(k) ? null : k;
        } else if (key === "listen_port") s.listenPort = parseUint(key, v, 0xffff);
        else if (key === "fwmark") s.fwmark = parseUint(key, v, 0xffffffff);
        else if (key !== "errno") bad(line);
      } else if (key === "preshared_key") {
        const k = parseHexKey(v);
        p.presharedKey = isZero(k) ? null : k;
      } else if (key === "protocol_version") {
        if (v !== "1") bad(line);
      } else if (key === "endpoint") p.endpoint = parseEndpoint(v);
      else if (key === "last_handshake_time_sec")
        p.lastHandshakeNs = big(line, v) * NS_PER_S + nsec;
      else if (key === "last_handshake_time_nsec") {
        nsec = big(line, v);
        p.lastHandshakeNs = (p.lastHandshakeNs / NS_PER_S) * NS_PER_S + nsec;
      } else if (key === "tx_bytes") p.txBytes = big(line, v);
      else if (key === "rx_bytes") p.rxBytes = big(line, v);
      else if (key === "persistent_keepalive_interval")
        p.persistentKeepalive = parseUint(key, v, 0xffff);
      else if (key === "allowed_ip") p.allowedIps.push(parseCidr(v));
      else if (key !== "errno") bad(line);
    } catch (e) {
      if (e instanceof UapiError && e.errno === EPROTO) throw e;
      throw new UapiError(
        EPROTO,
        `bad get line ${JSON.stringify(line.slice(0, 80))}: ${(e as Error).message}`,
      );
    }
  }
  return s;
}
