/**
 * A throwaway self-signed certificate for TLS tests and benchmarks (wss:// relays), made with
 * the openssl CLI (Node cannot create X.509 certificates; scripts/setup.sh installs openssl).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Writes `cert.pem` and `key.pem` (P-256, one day) into `dir` for `ip`; returns their paths. */
export function selfSignedCert(dir: string, ip: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
      .concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${ip}`])
      .concat(["-addext", `subjectAltName=IP:${ip}`]),
    { stdio: "ignore" },
  );
  return { cert, key };
}
