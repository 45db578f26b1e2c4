import { DataSource } from 'typeorm';
import { z } from 'zod';
import { defineBackend } from './backend.js';
import { Deadline, StoreTimeoutError } from './deadline.js';
import {
  MemcachedAttemptCounter,
  MemcachedSessionStore,
  connectMemcached,
  isMemcachedOutage,
  nodeOf,
} from './memcached-store.js';
import { SessionIndex } from './session-index.js';
import { IndexedSessionRegistry } from './store-base.js';

const NODE = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const config = z.object({
  MEMCACHED_SERVERS: z
    .string()
    .transform((list) => list.split(',').map((s) => s.trim()))
    .pipe(z.array(z.string().regex(NODE, 'host:port')).min(1)),
});

/**
 * Several Memcached nodes, each session on one of them (client-side consistent hashing), no
 * copies: a dead node logs out the users whose sessions it held, and nobody else. Memcached cannot
 * list keys, so the per-user index behind "list and revoke my sessions" lives in Postgres, as
 * with Redis; the login-attempt counters are memcached counters.
 */
export const memcachedBackend = defineBackend({
  name: 'memcached',
  summary: 'Memcached nodes, each session on one (client-side hashing)',
  config,
  services: ['memcached'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    const client = connectMemcached(deps.config.MEMCACHED_SERVERS, deps);
    const deadline = new Deadline(
      deps.timeoutMs,
      (ms) => new StoreTimeoutError(`Memcached did not answer within ${ms} ms`),
    );
    const index = new SessionIndex(database);
    const store = new MemcachedSessionStore(client, index, deadline, deps, deps.onError);
    return {
      store,
      registry: new IndexedSessionRegistry(index, store),
      attempts: new MemcachedAttemptCounter(client, deadline),
      locate: async (publicId) => [
        {
          holder: `Memcached ${nodeOf(client, publicId)}`,
          role: 'the only copy, on the node its key hashes to',
        },
      ],
      // Ready while any node answers: the others' keys fail over to it.
      ready: async () => {
        await deadline.within(client.get('ready-probe'));
      },
      close: async () => {
        client.close();
      },
    };
  },
  isOutage: isMemcachedOutage,
});
