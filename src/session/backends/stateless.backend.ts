import { DataSource } from 'typeorm';
import { z } from 'zod';
import { databaseOutage } from '../../database/outage.js';
import { sealedInCookie } from '../sealed/cookie-session.js';
import { defineBackend } from './backend.js';
import { StoreTimeoutError } from './deadline.js';
import { PostgresAttemptCounter } from './postgres-attempts.js';
import { sessionSqlFor } from './postgres-client.js';
import { pruneInBackground } from './postgres-prune.js';
import { sealedRegistry } from './sealed-registry.js';

/**
 * No session on the server at all: each one is sealed into its own cookie (cookie-seal.ts), so any
 * replica reads any session with nothing but the key. What that costs: a logout ends the cookie in
 * this browser only (a copy of it stays valid until it expires), and there is no list of one's
 * sessions to revoke. The login-attempt counter is a Postgres table (the database every profile
 * has), so the login limit stays cluster-wide.
 */
export const statelessBackend = defineBackend({
  name: 'stateless',
  summary: 'sealed into the cookie itself (JWE, AES-256-GCM); no server keeps it',
  inCookie: true,
  config: z.object({}),
  services: [],
  scope: { sessionList: 'none', loginLimit: 'cluster' },
  inject: [DataSource],
  async create(deps, database: DataSource) {
    const sql = sessionSqlFor(database, 1, deps.timeoutMs);
    // Ended attempt windows go, or a spray of made-up usernames would leave a row each.
    const stopPruning = pruneInBackground(database, {
      intervalMs: 60_000,
      batch: 500,
      onError: deps.onError,
    });
    return {
      sealed: sealedInCookie(deps.secrets),
      registry: sealedRegistry(),
      attempts: new PostgresAttemptCounter(sql),
      locate: async () => [
        { holder: 'your browser', role: 'the only copy: sealed in the cookie, no server keeps it' },
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
