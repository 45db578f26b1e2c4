import { createSentinel } from 'redis';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { defineBackend } from './backend.js';
import { durableConfig, keepConnecting, nodeList, replicatedBackend } from './redis-replicated.js';
import { isRedisOutage, nodeClientOptions, throttled, type ConnectOptions } from './redis-store.js';

const config = z.object({
  REDIS_SENTINELS: nodeList('the Sentinels'),
  REDIS_SENTINEL_NAME: z.string().min(1).default('scaled-login'),
  ...durableConfig,
});
type Config = z.infer<typeof config>;

/**
 * A Sentinel client: it asks the Sentinels for the primary, sends every command there, and
 * follows a failover by itself (Sentinel's switch-master message, or a READONLY reply from a
 * demoted primary). Commands sent while it looks for the new primary wait for it; the Deadline
 * around each one turns that wait into a prompt 503.
 */
function connectSentinel(cfg: Config, o: ConnectOptions) {
  const client = createSentinel({
    name: cfg.REDIS_SENTINEL_NAME,
    sentinelRootNodes: cfg.REDIS_SENTINELS,
    nodeClientOptions: nodeClientOptions(o),
    sentinelClientOptions: { socket: nodeClientOptions(o).socket },
    // One connection to the primary: node-redis pipelines every request's commands on it.
    masterPoolSize: 1,
  });
  client.on('error', throttled(o.onError, 'redis sentinel error'));
  return { client, stop: keepConnecting(client, 'redis sentinel', o) };
}

/**
 * Redis with two replicas and three Sentinels: the same store as `redis`, without its single
 * point of failure. Replication is asynchronous: a failover can lose the last writes, unless
 * durable logins make each login wait for a replica (REDIS_DURABLE_LOGINS).
 */
export const redisHaBackend = defineBackend({
  name: 'redis-ha',
  summary: 'Redis primary and two replicas behind three Sentinels, shared by every replica',
  config,
  services: ['redis-ha'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    // WAIT goes to the primary on the client's one connection to it: the one that wrote.
    return replicatedBackend(
      deps,
      database,
      () => connectSentinel(deps.config, deps),
      (client, _key, wait) => client.sendCommand<number>(false, wait),
    );
  },
  isOutage: isRedisOutage,
});
