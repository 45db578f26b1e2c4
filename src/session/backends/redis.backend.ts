import { DataSource } from 'typeorm';
import { z } from 'zod';
import { defineBackend } from './backend.js';
import { connectRedis, isRedisOutage, redisSessionBackend } from './redis-store.js';

const config = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' }),
});

/**
 * One Redis server shared by every replica (what Spring Session does): a read is one GET. The
 * per-user index behind "list and revoke my sessions" lives in Postgres (session-index.ts).
 */
export const redisBackend = defineBackend({
  name: 'redis',
  summary: 'Redis, shared by every replica',
  config,
  services: ['redis'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    return redisSessionBackend(connectRedis(deps.config.REDIS_URL, deps), { ...deps, database });
  },
  isOutage: isRedisOutage,
});
