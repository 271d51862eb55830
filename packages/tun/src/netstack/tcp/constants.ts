/** TCP constants (RFC 9293, RFC 1122, Linux defaults where the RFCs leave a choice). */

/** RFC 9293 §3.7.1: MSS assumed without the option. */
export const DEFAULT_MSS_V4 = 536;
export const DEFAULT_MSS_V6 = 1220;
/** Smallest peer MSS honoured (Linux TCP_MIN_SND_MSS, smoltcp MIN_REMOTE_MSS). */
export const MIN_PEER_MSS = 48;
/** Linux tcp_syn_retries / tcp_synack_retries. */
export const SYN_RETRIES = 6;
export const SYNACK_RETRIES = 5;
/** Linux tcp_retries2 (RFC 1122 §4.2.3.5 R2). */
export const DATA_RETRIES = 15;
/** Delayed-ACK timeout (RFC 1122 §4.2.3.2: < 500 ms; Linux TCP_DELACK_MIN 40 ms). */
export const DELACK_MS = 40;
/** Orphaned FIN_WAIT_2 lifetime (Linux tcp_fin_timeout). */
export const FIN_WAIT_2_MS = 60_000;
/** Keep-alive as Node's setKeepAlive: 2 h default idle, 1 s interval, 10 probes. */
export const KEEPALIVE_IDLE_MS = 7_200_000;
export const KEEPALIVE_INTERVAL_MS = 1000;
export const KEEPALIVE_PROBES = 10;
/** Persist (zero-window probe) backoff cap (Linux TCP_RTO_MAX). */
export const PERSIST_MAX_MS = 60_000;
/** RFC 5961 §7: challenge ACKs per connection at most one per this interval. */
export const CHALLENGE_ACK_INTERVAL_MS = 500;
/** RFC 7323 §5.5: TS.Recent is invalid after 24 days idle. */
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** IANA dynamic ports (RFC 6335), randomised (RFC 6056). */
export const EPHEMERAL_LOW = 49152;
export const EPHEMERAL_HIGH = 65535;
export const DEFAULT_BUFFER = 1 << 20;
export const DEFAULT_BACKLOG = 128;
export const DEFAULT_TIME_WAIT_MS = 60_000;
export const DEFAULT_MTU = 1420;
