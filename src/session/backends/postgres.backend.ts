import { DataSource } from 'typeorm';
import { z } from 'zod';
import { databaseOutage } from '../../database/outage.js';
import { SessionIndex } from './session-index.js';
import { defineBackend } from './backend.js';
import { StoreTimeoutError } from './deadline.js';
import { PostgresAttemptCounter } from './postgres-attempts.js';
import { pruneInBackground } from './postgres-prune.js';
import { sessionSqlFor } from './postgres-client.js';
import { PostgresSessionStore } from './postgres-store.js';
import { IndexedSessionRegistry } from './store-base.js';

const config = z.object({
  /** Seconds between rounds of deleting expired sessions (on every replica). */
  SESSION_PRUNE_INTERVAL: z.coerce.number().int().positive().default(60),
  /** Rows one DELETE of that pruning removes at most. */
  SESSION_PRUNE_BATCH: z.coerce.number().int().positive().max(10_000).default(500),
  /**
   * Connections each replica opens for the session statements. They are pipelined, so a few
   * carry a replica's whole load; more only add Postgres backends competing for the same cores.
   */
  SESSION_DB_CONNECTIONS: z.coerce.number().int().positive().max(100).default(2),
});

/**
 * Sessions in a Postgres table, the database every profile has anyway (what Spring Session JDBC
 * does): no server of its own to run, but a disk database on the path of every request. The
 * login-attempt counters are a table too, so both are cluster-wide.
 */
export const postgresBackend = defineBackend({
  name: 'postgres',
  summary: 'a Postgres table, shared by every replica',
  config,
  // Postgres runs in every profile; named here because the sessions live in it (its restart is
  // a store restart, and its observer looks at the session table).
  services: ['postgres'],
  scope: { sessionList: 'cluster', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    // The app's database (DATABASE_URL), through a client of its own: see SessionSql.
    const sql = sessionSqlFor(database, deps.config.SESSION_DB_CONNECTIONS, deps.timeoutMs);
    const store = new PostgresSessionStore(sql, deps, deps.onError);
    const stopPruning = pruneInBackground(database, {
      intervalMs: deps.config.SESSION_PRUNE_INTERVAL * 1000,
      batch: deps.config.SESSION_PRUNE_BATCH,
      onError: deps.onError,
    });
    return {
      store,
      registry: new IndexedSessionRegistry(new SessionIndex(database), store),
      attempts: new PostgresAttemptCounter(sql),
      // Every session is a row there, or nowhere: a request that got this far found it.
      locate: async () => [
        { holder: 'Postgres', role: 'a row of user_sessions, shared by every replica' },
      ],
      ready: async () => {
        await sql.query('SELECT 1');
      },
      close: async () => {
        await Promise.all([stopPruning(), sql.end()]);
      },
    };
  },
  isOutage: (err) => err instanceof StoreTimeoutError || databaseOutage.isOutage(err),
});
