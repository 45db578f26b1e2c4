import type { SessionBackendRecord } from './backend.js';
import { backupBackend } from './backup.backend.js';
import { memcachedBackend } from './memcached.backend.js';
import { memoryBackend } from './memory.backend.js';
import { postgresBackend } from './postgres.backend.js';
import { redisBackend } from './redis.backend.js';
import { replicatedBackend } from './replicated.backend.js';
import { redisClusterBackend } from './redis-cluster.backend.js';
import { redisHaBackend } from './redis-ha.backend.js';
import { statelessBackend } from './stateless.backend.js';
import { statelessRevocableBackend } from './stateless-revocable.backend.js';

/**
 * Every session backend, by the name used in SESSION_STORE and in the profile table
 * (cluster/profiles.ts). A new backend is one file in this folder and one entry here.
 */
export const sessionBackends = {
  memory: memoryBackend,
  redis: redisBackend,
  postgres: postgresBackend,
  memcached: memcachedBackend,
  replicated: replicatedBackend,
  backup: backupBackend,
  'redis-ha': redisHaBackend,
  'redis-cluster': redisClusterBackend,
  stateless: statelessBackend,
  'stateless-revocable': statelessRevocableBackend,
} satisfies Record<string, SessionBackendRecord>;

export type SessionStoreName = keyof typeof sessionBackends;
export const sessionStoreNames = Object.keys(sessionBackends) as [
  SessionStoreName,
  ...SessionStoreName[],
];

export type { SessionBackend, SessionBackendRecord } from './backend.js';
