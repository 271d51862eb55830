/**
 * An independent discovery client, written only from the published API (reference/kubespan.md
 * §1.2, §2.2–§2.4) with @grpc/grpc-js and node:crypto — none of wirespan's kubespan code. Run
 * inside a namespace by the mesh tests:
 *
 *   node --conditions=@wirespan/source --import tsx mesh-raw-client.ts TARGET CLUSTER_ID SECRET [PUBLISH_JSON]
 *
 * It says Hello, takes the first Watch message (the snapshot), decrypts every affiliate and prints
 * one JSON line `{"clientIp":…,"affiliates":[…]}`. With PUBLISH_JSON
 * (`{"id","publicKey","address","endpoint","hostname"}`) it first publishes that affiliate.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO = `syntax = "proto3";
package sidero.discovery.server;
import "google/protobuf/duration.proto";
service Cluster {
  rpc Hello(HelloRequest) returns (HelloResponse);
  rpc AffiliateUpdate(AffiliateUpdateRequest) returns (AffiliateUpdateResponse);
  rpc Watch(WatchRequest) returns (stream WatchResponse);
}
message HelloRequest { string cluster_id = 1; string client_version = 2; }
message RedirectMessage { string endpoint = 1; }
message HelloResponse { RedirectMessage redirect = 1; bytes client_ip = 2; }
message Affiliate { string id = 1; bytes data = 2; repeated bytes endpoints = 3; }
message AffiliateUpdateRequest {
  string cluster_id = 1; string affiliate_id = 2; optional bytes affiliate_data = 3;
  repeated bytes affiliate_endpoints = 4; google.protobuf.Duration ttl = 5;
}
message AffiliateUpdateResponse {}
message WatchRequest { string cluster_id = 1; }
message WatchResponse { repeated Affiliate affiliates = 1; bool deleted = 2; }
`;

// --- minimal protobuf wire format (varint, length-delimited) ---------------------------------
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function field(num: number, bytes: Uint8Array): number[] {
  return [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
}
function fieldVarint(num: number, v: number): number[] {
  return [...varint(num << 3), ...varint(v)];
}
type Fields = Map<number, (Uint8Array | number)[]>;
function parse(buf: Uint8Array): Fields {
  const out: Fields = new Map();
  let i = 0;
  const rv = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      n += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return n;
    }
  };
  while (i < buf.length) {
    const key = rv();
    const num = Math.floor(key / 8);
    const wt = key & 7;
    let v: Uint8Array | number;
    if (wt === 0) v = rv();
    else if (wt === 2) {
      const len = rv();
      v = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`unsupported wire type ${wt}`);
    out.set(num, [...(out.get(num) ?? []), v]);
  }
  return out;
}
const str = (f: Fields, n: number) => Buffer.from((f.get(n)?.[0] as Uint8Array) ?? []).toString();

// --- IPs as Go netip binary (§2.4) -----------------------------------------------------------
function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split(".").map(Number));
  const [head, tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = new Uint8Array(16);
  groups.forEach((g, k) => {
    const v = Number.parseInt(g, 16);
    out[2 * k] = v >> 8;
    out[2 * k + 1] = v & 0xff;
  });
  return out;
}
function ipText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  const g: string[] = [];
  for (let k = 0; k < 16; k += 2) g.push(((b[k] << 8) | b[k + 1]).toString(16));
  return g.join(":");
}

// --- encryption (§2.2, §2.3) -----------------------------------------------------------------
function openData(key: Buffer, blob: Uint8Array): Uint8Array | null {
  if (blob.length < 28) return null;
  const d = createDecipheriv("aes-256-gcm", key, blob.subarray(0, 12));
  d.setAuthTag(blob.subarray(blob.length - 16));
  try {
    return Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
  } catch {
    return null;
  }
}
function sealData(key: Buffer, plain: Uint8Array): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}
function ecb(key: Buffer, data: Uint8Array, encrypt: boolean): Buffer {
  const c = encrypt
    ? createCipheriv("aes-256-ecb", key, null)
    : createDecipheriv("aes-256-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}
function sealEndpoint(key: Buffer, ip: string, port: number): Buffer {
  const msg = Uint8Array.from([...field(1, ipBytes(ip)), ...fieldVarint(2, port)]);
  const padded = new Uint8Array(Math.ceil((msg.length + 1) / 16) * 16);
  padded[0] = msg.length;
  padded.set(msg, 1);
  return ecb(key, padded, true);
}
function openEndpoint(key: Buffer, blob: Uint8Array): string | null {
  if (blob.length === 0 || blob.length % 16 !== 0) return null;
  const plain = ecb(key, blob, false);
  const f = parse(plain.subarray(1, 1 + plain[0]));
  const ip = f.get(1)?.[0] as Uint8Array | undefined;
  const port = f.get(2)?.[0] as number | undefined;
  if (!ip || !port) return null;
  return ip.length === 4 ? `${ipText(ip)}:${port}` : `[${ipText(ip)}]:${port}`;
}

interface Publish {
  id: string;
  publicKey: string;
  address: string;
  endpoint: string;
  hostname: string;
}

type Unary = (req: object, cb: (err: Error | null, res: Record<string, unknown>) => void) => void;

async function main(): Promise<void> {
  const [target, clusterId, secret, publishJson] = process.argv.slice(2);
  const key = Buffer.from(secret, "base64");
  const protoFile = join(tmpdir(), `wsm-raw-${process.pid}.proto`);
  writeFileSync(protoFile, PROTO);
  const def = loadSync(protoFile, { keepCase: true, longs: String, defaults: false });
  // biome-ignore lint/suspicious/noExplicitAny: untyped generic gRPC client in a test tool
  const pkg = loadPackageDefinition(def) as any;
  const client = new pkg.sidero.discovery.server.Cluster(target, credentials.createInsecure());
  const call = <T>(method: string, req: object) =>
    new Promise<T>((resolve, reject) =>
      (client[method].bind(client) as Unary)(req, (err, res) =>
        err ? reject(err) : resolve(res as T),
      ),
    );
  const hello = await call<{ client_ip?: Uint8Array }>("Hello", {
    cluster_id: clusterId,
    client_version: "raw-test-client",
  });
  if (publishJson) {
    const p = JSON.parse(publishJson) as Publish;
    const ks = [...field(1, Buffer.from(p.publicKey)), ...field(2, ipBytes(p.address))];
    const data = Uint8Array.from([
      ...field(1, Buffer.from(p.id)),
      ...field(2, ipBytes(p.address)),
      ...field(3, Buffer.from(p.hostname)),
      ...field(5, Buffer.from("worker")),
      ...field(7, Uint8Array.from(ks)),
    ]);
    const [ip, port] = [
      p.endpoint.slice(0, p.endpoint.lastIndexOf(":")),
      p.endpoint.slice(p.endpoint.lastIndexOf(":") + 1),
    ];
    await call("AffiliateUpdate", {
      cluster_id: clusterId,
      affiliate_id: p.id,
      affiliate_data: sealData(key, data),
      affiliate_endpoints: [sealEndpoint(key, ip, Number(port))],
      ttl: { seconds: "600", nanos: 0 },
    });
  }
  const snapshot = await new Promise<{
    affiliates?: { id: string; data?: Uint8Array; endpoints?: Uint8Array[] }[];
  }>((resolve, reject) => {
    const stream = client.Watch({ cluster_id: clusterId });
    stream.once("data", (m: never) => {
      resolve(m);
      stream.cancel();
    });
    stream.on("error", (e: { code?: number }) => {
      if (e.code !== 1) reject(e);
    });
  });
  const affiliates = [];
  for (const a of snapshot.affiliates ?? []) {
    const plain = a.data ? openData(key, a.data) : null;
    if (!plain) continue;
    const f = parse(plain);
    const ks = f.get(7)?.[0] as Uint8Array | undefined;
    const ksf = ks ? parse(ks) : new Map();
    affiliates.push({
      id: a.id,
      nodeId: str(f, 1),
      hostname: str(f, 3),
      addresses: (f.get(2) ?? []).map((b) => ipText(b as Uint8Array)),
      publicKey: ks ? str(ksf, 1) : "",
      address: ks && ksf.get(2) ? ipText(ksf.get(2)?.[0] as Uint8Array) : "",
      endpoints: (a.endpoints ?? []).map((e) => openEndpoint(key, e)).filter((e) => e !== null),
    });
  }
  const clientIp = hello.client_ip && hello.client_ip.length > 0 ? ipText(hello.client_ip) : null;
  process.stdout.write(`${JSON.stringify({ clientIp, affiliates })}\n`);
  client.close();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`raw client: ${err.message}\n`);
    process.exit(1);
  },
);
