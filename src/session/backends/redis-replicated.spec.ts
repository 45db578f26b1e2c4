import { describe, expect, it } from '@jest/globals';
import { redisClusterBackend } from './redis-cluster.backend.js';
import { redisHaBackend } from './redis-ha.backend.js';

describe('redis-ha and redis-cluster (the records)', () => {
  it('each names its own servers and sees the whole cluster', () => {
    expect(redisHaBackend.services).toEqual(['redis-ha']);
    expect(redisClusterBackend.services).toEqual(['redis-cluster']);
    for (const record of [redisHaBackend, redisClusterBackend])
      expect(record.scope).toEqual({ sessionList: 'cluster', loginLimit: 'cluster' });
  });

  it('reads the Sentinels as host:port pairs; durable logins are off unless asked for', () => {
    expect(
      redisHaBackend.config.parse({ REDIS_SENTINELS: '127.0.0.1:26379, sentinel-2:26380' }),
    ).toEqual({
      REDIS_SENTINELS: [
        { host: '127.0.0.1', port: 26379 },
        { host: 'sentinel-2', port: 26380 },
      ],
      REDIS_SENTINEL_NAME: 'scaled-login',
      REDIS_DURABLE_LOGINS: false,
      REDIS_DURABLE_TIMEOUT_MS: 250,
    });
    const durable = redisClusterBackend.config.parse({
      REDIS_CLUSTER_NODES: 'redis-cluster-1:6379',
      REDIS_DURABLE_LOGINS: 'true',
      REDIS_DURABLE_TIMEOUT_MS: '100',
    });
    expect(durable).toMatchObject({ REDIS_DURABLE_LOGINS: true, REDIS_DURABLE_TIMEOUT_MS: 100 });
  });

  it.each([
    [{}],
    [{ REDIS_SENTINELS: '' }],
    [{ REDIS_SENTINELS: 'redis://127.0.0.1:26379' }],
    [{ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_DURABLE_LOGINS: 'maybe' }],
  ])('refuses %j', (env) => {
    expect(redisHaBackend.config.safeParse(env).success).toBe(false);
  });
});
