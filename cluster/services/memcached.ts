/**
 * Memcached nodes for the memcached backend, each its own member (killable and restartable on its
 * own). No persistence and no replication, by design: a node restarts empty, and a clean stop
 * loses its items as surely as a crash.
 */
import { resolve } from 'node:path';
import { standalonePlace, startStandalone } from '../render/native.js';
import type { Place, ServerDescription } from './description.js';
import { observeMemcached } from './memcached-observer.js';
import type { RunningServer, ServicePlugin } from './service.js';

/** Nodes of the memcached profile: enough to show that a dead one takes only its share along. */
export const MEMCACHED_NODES = 2;
/** As many as scale-store may run. */
const MAX_NODES = 6;
const PORT = 11211;

/** Arguments only: everything that differs from memcached's defaults is visible here. */
export async function describeMemcached(place: Place, name: string): Promise<ServerDescription> {
  const port = await place.port(name, PORT, { keep: true });
  return {
    name,
    service: name,
    kind: 'memcached',
    image: 'memcached:1.6-alpine',
    command: [
      'memcached',
      ...['--port', String(port), '--listen', place.bind, '--udp-port', '0'],
      ...['--memory-limit', '64', '--threads', '2'], // 64 MiB for items
      // It refuses to run as root without a user to switch to.
      ...(place.root ? ['--user', 'nobody'] : []),
    ],
    port,
    // The PID tells the node we spawned from another one that already held the port.
    ready: { kind: 'memcached', port },
    stop: { signal: 'SIGTERM', timeoutMs: 5_000 },
    comment:
      name === nodeName(0)
        ? 'Memcached nodes for the memcached profile: each session on one node, chosen by the replicas.'
        : undefined,
  };
}

/** One memcached on its own (tests). */
export async function startMemcached(options: {
  dir: string;
  port: number;
  readyTimeoutMs?: number;
}): Promise<RunningServer> {
  const dir = resolve(options.dir);
  const description = await describeMemcached(standalonePlace(dir, options.port), 'memcached');
  return startStandalone(description, { ...options, dir });
}

const nodeName = (i: number) => `memcached-${i + 1}`;
const nodeNames = (place: Place) =>
  Array.from({ length: place.storeShards?.('memcached') ?? MEMCACHED_NODES }, (_, i) =>
    nodeName(i),
  );

export const memcachedService: ServicePlugin = {
  name: 'memcached',
  grows: true,

  async describe(place) {
    const nodes = await Promise.all(nodeNames(place).map((name) => describeMemcached(place, name)));
    return {
      units: nodes,
      env: {
        MEMCACHED_SERVERS: nodes.map((n) => `${place.host(n.service)}:${n.port}`).join(','),
      },
    };
  },

  async started(servers) {
    const nodes = [...servers.values()];
    return {
      observe: async () => observeMemcached(nodes),
      // A new node needs nothing from the others: the replicas learn of it from their new
      // MEMCACHED_SERVERS (a rolling restart), and hash the keys it now wins to it. Those
      // sessions are not there: their users log in again.
      grow: {
        shard: 'node',
        shards: () => nodes.length,
        max: MAX_NODES,
        join: async (added) => void nodes.push(...added.values()),
      },
    };
  },
};
