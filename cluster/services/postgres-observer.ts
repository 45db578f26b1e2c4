import pg from 'pg';
import type { StoreObserver } from './service.js';

/**
 * The tables sessions live in: ours (rows of user_sessions that hold a session; the other stores
 * keep only index rows there) and connect-pg-simple's `session`, for the benchmark's peer.
 */
const TABLES = [
  { table: 'user_sessions', value: 'data', where: 'idle_until IS NOT NULL' },
  { table: 'session', value: 'sess', where: 'true' },
];

/**
 * The benchmark's look into Postgres where it is the session store: the session tables' size on
 * disk and their rows. Commands are the tables' row counters from pg_stat_user_tables, which a
 * backend reports when its transaction ends (at most once a second when busy), so a short window
 * can miss the last second: the benchmark's statements per read come from pg_stat_statements.
 */
export async function observePostgresSessions(superuserUrl: string): Promise<StoreObserver> {
  const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  const one = async <Row extends pg.QueryResultRow>(sql: string) =>
    (await client.query<Row>(sql)).rows[0];
  const present = async () => {
    const found = [];
    for (const t of TABLES)
      if ((await one<{ oid: string | null }>(`SELECT to_regclass('${t.table}') AS oid`))?.oid)
        found.push(t);
    return found;
  };
  const sumOver = async (sql: (t: (typeof TABLES)[number]) => string) => {
    let total = 0;
    for (const t of await present()) total += Number((await one<{ n: string }>(sql(t)))?.n ?? 0);
    return total;
  };
  return {
    label: 'Postgres',
    async commandCounts() {
      const { rows } = await client.query<Record<string, string>>(
        `SELECT sum(coalesce(idx_scan, 0) + seq_scan) AS select, sum(n_tup_ins) AS insert,
           sum(n_tup_upd) AS update, sum(n_tup_del) AS delete
         FROM pg_stat_user_tables WHERE relname = ANY($1)`,
        [TABLES.map((t) => t.table)],
      );
      return new Map(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
    },
    // Disk, not memory: the tables with their indexes and TOAST.
    usedMemory: () => sumOver((t) => `SELECT pg_total_relation_size('${t.table}') AS n`),
    async sampleSessions(limit) {
      for (const t of await present()) {
        const row = await one<{
          count: string;
          bytes: number;
          value_bytes: number;
          example: string;
        }>(
          `SELECT count(*) AS count, avg(pg_column_size(s.*))::float8 AS bytes,
             avg(pg_column_size(s.${t.value}))::float8 AS value_bytes,
             min(s.${t.value}::text) AS example
           FROM (SELECT * FROM ${t.table} WHERE ${t.where} LIMIT ${limit}) s`,
        );
        if (row && Number(row.count) > 0) {
          return {
            count: Number(row.count),
            bytes: row.bytes,
            valueBytes: row.value_bytes,
            example: row.example,
          };
        }
      }
      throw new Error('no sessions in Postgres to sample');
    },
    sessionCount: () => sumOver((t) => `SELECT count(*) AS n FROM ${t.table} WHERE ${t.where}`),
    close: () => client.end(),
  };
}
