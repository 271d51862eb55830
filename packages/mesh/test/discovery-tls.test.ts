import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, expect, it } from "vitest";
import { describeRequiring } from "../../../test/support/privileged.js";
import { DiscoveryServer } from "../src/discovery/server.js";
import { clusterClient, codeOf, unary } from "./discovery-grpc-client.js";

// TLS mode (kubespan.md §1.1: the public service is gRPC over TLS). The certificate is made here
// with the openssl CLI, since Node cannot create X.509 certificates itself.

/** Why this suite cannot run here (no openssl CLI), or null. Under CI a skip is a failure. */
function opensslMissing(): string | null {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return null;
  } catch {
    return "needs the openssl CLI (scripts/setup.sh installs it)";
  }
}

const dir = mkdtempSync(join(tmpdir(), "wsd-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeRequiring(opensslMissing(), "discovery over TLS", () => {
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
