import { serverLine, upstreamBlock, type RoutingStrategy } from './upstream.js';

/** nginx's default: each request to the next replica in turn, whoever sends it. */
export const roundRobin: RoutingStrategy = {
  name: 'round-robin',
  summary: 'each request to the next replica in turn',
  render: (servers) => ({
    blocks: upstreamBlock(
      'app',
      servers.map((s) => serverLine(s)),
    ),
    target: 'app',
  }),
};
