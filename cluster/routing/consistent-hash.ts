import { INGRESS_NGINX, serverLine, upstreamBlock, type RoutingStrategy } from './upstream.js';

/**
 * Stickiness by client address on a hash ring: `hash $remote_addr consistent` (ketama: 160 points
 * per replica) sends each client to the replica whose point follows its own. A new replica takes
 * over only the arcs before its points, a removed one hands over only its own: a count change
 * moves about the share of clients the change is, not most of them as `ip_hash` does. Keyed on
 * the whole address, so clients behind one NAT are still one client.
 *
 * A client stays through a sequence of counts exactly when, of every replica that was ever in
 * the list, its own is the nearest on the ring and never left: min(counts) / max(counts).
 */
export const consistentHash: RoutingStrategy = {
  name: 'consistent-hash',
  summary: 'the client address on a hash ring picks the replica; a new count moves few clients',
  // ingress-nginx's upstream-hash-by is the same ketama ring.
  ingressNginx: { annotations: { [`${INGRESS_NGINX}/upstream-hash-by`]: '$remote_addr' } },
  render: (servers) => ({
    blocks: upstreamBlock('app', [
      'hash $remote_addr consistent;',
      ...servers.map((s) => serverLine(s)),
    ]),
    target: 'app',
  }),
  keptThrough: (counts) => Math.min(...counts) / Math.max(...counts),
};
