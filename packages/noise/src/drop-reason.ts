/**
 * Why the Engine dropped an input: the keys of `Engine.drops`. A closed list, so a counter's
 * name is part of the API (dashboards and tests key on it) and a new reason is a visible,
 * reviewed change. Network input is never answered with an exception (DESIGN.md Conventions):
 * it is dropped and counted under one of these.
 */
export const DROP_REASONS = [
  // Datagram framing (messages.ts DecodeFailure).
  "empty",
  "unknown-type",
  "bad-length",
  // Handshake initiation (whitepaper §5.4.2).
  "initiation-decrypt-static",
  "initiation-unknown-peer",
  "initiation-decrypt-payload",
  "initiation-bad-dh",
  "initiation-invalid",
  "initiation-replay",
  "initiation-flood",
  // Handshake response (§5.4.3).
  "response-bad-dh",
  "response-unknown-index",
  "response-unexpected",
  "response-invalid",
  // Cookie reply (§5.4.7).
  "cookie-unknown-index",
  "cookie-invalid",
  // DoS mitigation (§5.3): mac1, load, rate limit.
  "bad-mac1",
  "bad-source",
  "under-load-cookie-sent",
  "rate-limited",
  // Transport data (§5.4.6) and the replay window (RFC 6479).
  "transport-unknown-index",
  "transport-keypair-expired",
  "transport-counter-rejected",
  "transport-decrypt-failed",
  "transport-replay",
  // Decrypted inner packet: cryptokey routing on receive (§2).
  "inner-invalid",
  "inner-source-not-allowed",
  // Outbound tunnel packets.
  "outbound-not-ip",
  "outbound-bad-length",
  "outbound-no-route",
  "staged-overflow",
  "no-endpoint",
  // Configuration and robustness.
  "no-private-key",
  "internal-error",
] as const;

/** One reason an input was dropped; see {@link DROP_REASONS}. */
export type DropReason = (typeof DROP_REASONS)[number];

/** Dropped-input counters by reason (only reasons that occurred are present). */
export type DropCounts = Partial<Record<DropReason, number>>;
