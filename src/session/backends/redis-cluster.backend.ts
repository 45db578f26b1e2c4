import { createCluster } from 'redis';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { defineBackend } from './backend.js';
import {
  durableConfig,
  keepConnecting,
  nodeList,
  stoppingFirst,
  waitCommand,
} from './redis-replicated.js';
import {
  isRedisOutage,
  nodeClientOptions,
  redisSessionBackend,
  throttled,
  type ConnectOptions,
} from './redis-store.js';

const config = z.object({
  REDIS_CLUSTER_NODES: nodeList('Redis Cluster nodes to discover the cluster from'),
  ...durableConfig,
});
type Config = z.infer<typeof config>;

/** After a node's connection drops, re-read the slot map this soon (node-redis' default: 5 s). */
const TOPOLOGY_REFRESH_MS = 500;

/**
 * A Cluster client: it reads the slot map from any node and sends each command to the master of
 * its key's slot. When a master dies it re-reads the map while reconnecting (so it finds the
 * promoted replica) and on every MOVED reply.
 */
function connectCluster(cfg: Config, o: ConnectOptions) {
  const client = createCluster({
    rootNodes: cfg.REDIS_CLUSTER_NODES.map(({ host, port }) => ({ socket: { host, port } })),
    defaults: nodeClientOptions(o),
    topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH_MS,
  });
  client.on('error', throttled(o.onError, 'redis cluster error'));
  return { client, stop: keepConnecting(client, 'redis cluster', o) };
}

/**
 * Redis Cluster, 3 masters with a replica each: the same store as `redis`, spread over the
 * masters by key (a session is one key, so one node), surviving the loss of a master.
 */
export const redisClusterBackend = defineBackend({
  name: 'redis-cluster',
  summary: 'Redis Cluster (sessions spread over masters, each with a replica)',
  config,
  services: ['redis-cluster'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    const main = connectCluster(deps.config, deps);
    const durable = deps.config.REDIS_DURABLE_LOGINS
      ? connectCluster(deps.config, deps)
      : undefined;
    const wait = waitCommand(deps.config.REDIS_DURABLE_TIMEOUT_MS);
    const backend = redisSessionBackend(main.client, {
      ...deps,
      database,
      durable: durable && {
        redis: durable.client,
        durability: {
          replicas: 1,
          // To the master that owns the key, on the connection that wrote it (one per node).
          wait: async (key) =>
            (await durable.client.getNodeClientForKey(key)).sendCommand<number>(wait),
        },
      },
    });
    return stoppingFirst(backend, [main.stop, ...(durable ? [durable.stop] : [])]);
  },
  isOutage: isRedisOutage,
});
