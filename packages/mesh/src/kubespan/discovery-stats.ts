/** Counters of what the discovery client dropped or did (network input is counted, never thrown). */
export interface DiscoveryClientStats {
  hellos: number;
  redirects: number;
  updatesSent: number;
  watchMessages: number;
  reconnects: number;
  droppedShortData: number;
  droppedDecryptFailures: number;
  droppedDecodeFailures: number;
  droppedEndpoints: number;
  /** Advertised prefixes skipped while decoding (no prefix length, bad address or length). */
  droppedPrefixes: number;
  /** Exceptions thrown by event listeners (logged; the client carries on). */
  listenerErrors: number;
}

export function emptyDiscoveryClientStats(): DiscoveryClientStats {
  return {
    hellos: 0,
    redirects: 0,
    updatesSent: 0,
    watchMessages: 0,
    reconnects: 0,
    droppedShortData: 0,
    droppedDecryptFailures: 0,
    droppedDecodeFailures: 0,
    droppedEndpoints: 0,
    droppedPrefixes: 0,
    listenerErrors: 0,
  };
}
