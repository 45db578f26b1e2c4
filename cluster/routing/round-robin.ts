import { INGRESS_NGINX, serverLine, upstreamBlock, type RoutingStrategy } from './upstream.js';

/** nginx's default: each request to the next replica in turn, whoever sends it. */
export const roundRobin: RoutingStrategy = {
  name: 'round-robin',
  summary: 'each request to the next replica in turn',
  // ingress-nginx's default too; said here so that a controller configured otherwise does not
  // quietly make the row sticky (or not) by its ConfigMap's `load-balance`.
  ingressNginx: { annotations: { [`${INGRESS_NGINX}/load-balance`]: 'round_robin' } },
  render: (servers) => ({
    blocks: upstreamBlock(
      'app',
      servers.map((s) => serverLine(s)),
    ),
    target: 'app',
  }),
};
