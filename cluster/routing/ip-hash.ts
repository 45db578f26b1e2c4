import { serverLine, upstreamBlock, type RoutingStrategy } from './upstream.js';

/**
 * Stickiness by client address: `ip_hash` keys on the first three octets of an IPv4 address, so
 * every client of one /24 (one NAT, one office) is one client to it and lands on one replica.
 */
export const ipHash: RoutingStrategy = {
  name: 'ip-hash',
  summary: 'a hash of the client address (its /24) picks the replica',
  render: (servers) => ({
    blocks: upstreamBlock('app', ['ip_hash;', ...servers.map((s) => serverLine(s))]),
    target: 'app',
  }),
};
