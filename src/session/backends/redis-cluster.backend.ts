import { createCluster } from 'redis';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { defineBackend } from './backend.js';
import { durableConfig, keepConnecting, nodeList, replicatedBackend } from './redis-replicated.js';
import { isRedisOutage, nodeClientOptions, throttled, type ConnectOptions } from './redis-store.js';

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
 * Redis Cluster, 3 masters with two replicas each: the same store as `redis`, spread over the
 * masters by key (a session is one key, so one node), surviving the loss of a master.
 */
export const redisClusterBackend = defineBackend({
  name: 'redis-cluster',
  summary: 'Redis Cluster (sessions spread over masters, each with two replicas)',
  config,
  services: ['redis-cluster'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    // WAIT goes to the master that owns the key, on the connection that wrote it (one per node);
    // sent through the cluster client it would go to every master.
    return replicatedBackend(
      deps,
      database,
      () => connectCluster(deps.config, deps),
      async (client, key, wait) =>
        (await client.getNodeClientForKey(key)).sendCommand<number>(wait),
    );
  },
  isOutage: isRedisOutage,
});
