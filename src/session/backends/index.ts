import type { SessionBackendFactory } from '../session.types.js';
import { createMemoryBackend } from './memory.backend.js';
import { createRedisBackend } from './redis.backend.js';

/**
 * The session backends, by the name used in SESSION_STORE and in the cluster's profile table.
 * A new backend is one file in this folder and one entry here.
 */
export const sessionBackends = {
  memory: createMemoryBackend,
  redis: createRedisBackend,
} satisfies Record<string, SessionBackendFactory>;

export type SessionStoreName = keyof typeof sessionBackends;
export const sessionStoreNames = Object.keys(sessionBackends) as [
  SessionStoreName,
  ...SessionStoreName[],
];
