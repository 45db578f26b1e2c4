/**
 * The session store of the plain-Express peer, as its users would set it up: connect-redis on
 * node-redis, or connect-pg-simple on the same Postgres as the users table (its own `session`
 * table: sid, sess json, expire). PEER_TOUCH=off sets each library's `disableTouch`, which makes
 * a read one lookup like ours; "on" is their default (a read also refreshes the expiry: EXPIRE in
 * Redis, an UPDATE in Postgres).
 */
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import type pg from 'pg';
import { createClient } from 'redis';

export interface PeerStore {
  name: 'redis' | 'postgres';
  store: session.Store;
  close(): Promise<unknown>;
}

export async function peerStore(env: NodeJS.ProcessEnv, db: pg.Pool): Promise<PeerStore> {
  const disableTouch = env.PEER_TOUCH === 'off';
  if (env.PEER_STORE === 'postgres') {
    const PgStore = connectPgSimple(session);
    const store = new PgStore({ pool: db, createTableIfMissing: true, disableTouch });
    // The replicas start together: one creates the table (the library's own table.sql), the
    // others wait on an advisory lock instead of racing it.
    const client = await db.connect();
    try {
      await client.query('SELECT pg_advisory_lock(4211)');
      await new Promise((resolve) => {
        store.get('warm-up', resolve);
      });
    } finally {
      await client.query('SELECT pg_advisory_unlock(4211)');
      client.release();
    }
    return {
      name: 'postgres',
      store,
      close: async () => {
        store.close();
      },
    };
  }
  const redis = createClient({ url: env.REDIS_URL, disableOfflineQueue: true });
  redis.on('error', (err: Error) => {
    console.error(`redis: ${err.message}`);
  });
  await redis.connect();
  return {
    name: 'redis',
    store: new RedisStore({ client: redis, prefix: 'sess:', disableTouch }),
    close: () => redis.close(),
  };
}
