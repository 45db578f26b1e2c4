import { INGRESS_NGINX, serverLine, upstreamBlock, type RoutingStrategy } from './upstream.js';

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * Stickiness by client address: `ip_hash` keys on the first three octets of an IPv4 address, so
 * every client of one /24 (one NAT, one office) is one client to it and lands on one replica.
 * It picks replica `hash mod n`, so a new count moves most clients: a client stays only where
 * its hash gives the same index under every count (counted over one period of all of them).
 */
export const ipHash: RoutingStrategy = {
  name: 'ip-hash',
  summary: 'a hash of the client address (its /24) picks the replica',
  // Not the Service's `sessionAffinity: ClientIP`: ingress-nginx sends to the pods' endpoints
  // itself, past kube-proxy, and kube-proxy would see the controller's address anyway.
  ingressNginx: {
    annotations: { [`${INGRESS_NGINX}/upstream-hash-by`]: '$remote_addr' },
    differs:
      'ingress-nginx has no `ip_hash`: it hashes the whole address on a ring (ketama), as ' +
      '`sticky-consistent` does, so a new replica count moves fewer clients than here',
  },
  render: (servers) => ({
    blocks: upstreamBlock('app', ['ip_hash;', ...servers.map((s) => serverLine(s))]),
    target: 'app',
  }),
  keptThrough(counts) {
    const period = counts.reduce((l, n) => (l * n) / gcd(l, n), 1);
    let kept = 0;
    // A client stays where its hash picks the same index under every count.
    for (let h = 0; h < period; h++) if (new Set(counts.map((n) => h % n)).size <= 1) kept++;
    return kept / period;
  },
};
