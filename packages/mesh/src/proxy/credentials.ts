/**
 * Username/password checks shared by the SOCKS5 (RFC 1929) and HTTP Basic (RFC 7617) front-ends,
 * in constant time over the compared bytes so a wrong guess does not tell how close it was.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const digest = (b: Uint8Array | string) => createHash("sha256").update(b).digest();

export class CredentialCheck {
  private readonly user: Buffer;
  private readonly pass: Buffer;

  constructor(creds: Credentials) {
    this.user = digest(creds.username);
    this.pass = digest(creds.password);
  }

  /** Hashing first makes the comparison length-independent too. */
  matches(user: Uint8Array | string, pass: Uint8Array | string): boolean {
    const u = timingSafeEqual(digest(user), this.user);
    const p = timingSafeEqual(digest(pass), this.pass);
    return u && p;
  }

  /** RFC 7617 §2: `Basic base64(user ":" pass)`; the user-id is what precedes the first colon. */
  matchesBasic(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
    if (!m) return false;
    const text = Buffer.from(m[1], "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) return false;
    return this.matches(text.slice(0, colon), text.slice(colon + 1));
  }
}
