import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import { clusterClient, codeOf, unary } from "./discovery-grpc-client.js";

// TLS mode (kubespan.md §1.1: the public service is gRPC over TLS). The certificate is made here
// with the openssl CLI, since Node cannot create X.509 certificates itself.

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), "wsd-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOpenssl())("discovery over TLS (needs the openssl CLI)", () => {
  it("serves gRPC over TLS to a client trusting the self-signed certificate", async () => {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        .concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"])
        .concat(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]),
      { stdio: "ignore" },
    );
    const server = await DiscoveryServer.start({
      listen: "127.0.0.1:0",
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    const secure = clusterClient(server.address, credentials.createSsl(readFileSync(cert)));
    const plain = clusterClient(server.address);
    try {
      const hello = await unary<{ client_ip: Buffer }>(secure, "Hello", { cluster_id: "c1" });
      expect([...hello.client_ip]).toEqual([127, 0, 0, 1]);
      // A plaintext client cannot talk to the TLS port.
      expect(await codeOf(unary(plain, "Hello", { cluster_id: "c1" }))).toBe(status.UNAVAILABLE);
    } finally {
      secure.close();
      plain.close();
      await server.close();
    }
  });
});
