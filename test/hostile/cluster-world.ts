import { Client as PgClient } from 'pg';
import { createClient } from 'redis';
import type { TestCluster } from '../support/cluster.js';
import type { World } from './harness.js';

/** Session values keep their last-seen time here: a read may refresh it (sliding expiry). */
const LAST_SEEN = 'l';
/** Failed logins count by design, refused or not (the limit is proven in security.e2e-spec). */
const ATTEMPT_COUNTERS = 'login-attempts:';

export interface ClusterWorld extends World {
  close(): Promise<void>;
}

/**
 * What a request could change in a redis-profile cluster (the users and session-index tables,
 * the Redis keys), and whether every process is still the one that started; the backends'
 * addresses are those the cluster handed its replicas.
 */
export async function clusterWorld(cluster: TestCluster): Promise<ClusterWorld> {
  const db = new PgClient({ connectionString: cluster.env.DATABASE_URL });
  await db.connect();
  const redis = createClient({ url: cluster.env.REDIS_URL });
  await redis.connect();
  const pids = cluster.status().map((m) => [m.name, m.pid]);

  return {
    async snapshot() {
      const { rows } = await db.query<Record<string, string>>(
        `SELECT (SELECT count(*) FROM users) AS users,
                (SELECT md5(coalesce(string_agg(u::text, '|' ORDER BY u.id), '')) FROM users u) AS "usersDigest",
                (SELECT count(*) FROM user_sessions) AS "userSessions",
                (SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY s.id), '')) FROM user_sessions s) AS "userSessionsDigest"`,
      );
      const keys = (await redis.keys('*')).filter((k) => !k.startsWith(ATTEMPT_COUNTERS)).sort();
      const values = keys.length ? await redis.mGet(keys) : [];
      const redisEntries = keys.map((key, i) => {
        const value = values[i] ?? null;
        if (!key.startsWith('sess:') || value === null) return `${key}=${String(value)}`;
        const { [LAST_SEEN]: _lastSeen, ...rest } = JSON.parse(value) as Record<string, unknown>;
        return `${key}=${JSON.stringify(rest)}`;
      });
      return { postgres: rows[0], redis: redisEntries };
    },

    async assertHealthy(thorough) {
      const now = cluster.status().map((m) => [m.name, m.running ? m.pid : 'not running']);
      if (JSON.stringify(now) !== JSON.stringify(pids))
        throw new Error(`a process crashed or restarted: ${JSON.stringify({ before: pids, now })}`);
      if (!thorough) return;
      for (const r of cluster.replicas) {
        const res = await cluster.direct(r, cluster.client()).get('/health/ready');
        if (res.status !== 200) throw new Error(`${r} is not ready: ${res.status} ${res.text}`);
      }
    },

    async close() {
      await db.end();
      await redis.quit();
    },
  };
}

/** A 503 is only right while a backend is down: some replica must say so. */
export async function assertBackendDown(cluster: TestCluster): Promise<void> {
  for (const r of cluster.replicas) {
    const res = await cluster.direct(r, cluster.client()).get('/health/ready');
    if (res.status !== 200) return;
  }
  throw new Error('a 503 while every replica reports Postgres and Redis up');
}
