import pg from 'pg';
import type { StoreObserver } from './service.js';

/** Rows of the session table that hold a session (the other stores keep only index rows there). */
const SESSIONS = `FROM user_sessions WHERE idle_until IS NOT NULL`;

/**
 * The benchmark's look into Postgres where it is the session store (the postgres backend): the
 * session table's size on disk and its rows. Commands are the table's row counters from
 * pg_stat_user_tables, which a backend reports when its transaction ends (at most once a second
 * when busy), so a short window can miss the last second: the benchmark's statements per read
 * come from pg_stat_statements instead.
 */
export async function observePostgresSessions(superuserUrl: string): Promise<StoreObserver> {
  const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  const one = async <Row extends pg.QueryResultRow>(sql: string) =>
    (await client.query<Row>(sql)).rows[0];
  return {
    label: 'Postgres',
    async commandCounts() {
      const row = await one<Record<string, string>>(
        `SELECT idx_scan + seq_scan AS select, n_tup_ins AS insert, n_tup_upd AS update,
           n_tup_del AS delete FROM pg_stat_user_tables WHERE relname = 'user_sessions'`,
      );
      return new Map(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
    },
    // Disk, not memory: the table with its indexes and TOAST.
    usedMemory: async () =>
      Number(
        (await one<{ bytes: string }>(`SELECT pg_total_relation_size('user_sessions') AS bytes`))
          ?.bytes,
      ),
    async sampleSessions(limit) {
      const row = await one<{ count: string; bytes: number; value_bytes: number; example: string }>(
        `SELECT count(*) AS count, avg(pg_column_size(s.*))::float8 AS bytes,
           avg(pg_column_size(s.data))::float8 AS value_bytes, min(s.data::text) AS example
         FROM (SELECT * ${SESSIONS} LIMIT ${Number(limit)}) s`,
      );
      if (!row || Number(row.count) === 0) throw new Error('no sessions in Postgres to sample');
      return {
        count: Number(row.count),
        bytes: row.bytes,
        valueBytes: row.value_bytes,
        example: row.example,
      };
    },
    sessionCount: async () =>
      Number((await one<{ n: string }>(`SELECT count(*) AS n ${SESSIONS}`))?.n),
    close: () => client.end(),
  };
}
