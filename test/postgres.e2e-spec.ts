/**
 * Profile `postgres` (round-robin + sessions in a Postgres table), beyond what the guarantee suite
 * checks for every profile: what an authenticated read costs Postgres (counted by Postgres
 * itself, in pg_stat_statements), the merge a save runs in SQL against the app's own merge, the
 * background pruning, and Postgres going away and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import pg from 'pg';
import { defined } from '../src/common/defined.js';
import { apply, type Json } from '../src/session/session-merge.js';
import type { HttpClient } from './support/http-client.js';
import { useCluster } from './support/cluster.js';
import { eventually } from './support/eventually.js';
import { isLoggedIn, login, register, uniqueName, whoami } from './support/steps.js';

const cluster = useCluster('postgres', {
  // Counts every statement per role, as it runs.
  postgresSettings: { shared_preload_libraries: 'pg_stat_statements' },
  env: { SESSION_PRUNE_INTERVAL: '1', SESSION_PRUNE_BATCH: '100' },
});

/** As the superuser, in the app's database. */
let db: pg.Client;
beforeAll(async () => {
  const { port } = defined(
    cluster.status().find((m) => m.kind === 'postgres'),
    'the postgres member',
  );
  db = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/app` });
  db.on('error', () => undefined); // Postgres is stopped on purpose below
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
});
afterAll(async () => {
  await db.end().catch(() => undefined);
});

async function newUser(): Promise<{ client: HttpClient; name: string }> {
  const client = cluster.client();
  const name = uniqueName('pg');
  expect((await register(client, name)).status).toBe(201);
  return { client, name };
}

/** The background pruning's statements: not part of any request. */
const PRUNING = /^DELETE FROM (user_sessions|login_attempts) WHERE (id|key) IN/;

/** Statements the app's role ran since the last reset, by text, pruning left out. */
async function statementsSinceReset(): Promise<Map<string, number>> {
  const { rows } = await db.query<{ query: string; calls: string }>(
    `SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
     WHERE r.rolname = 'app'`,
  );
  return new Map(rows.filter((r) => !PRUNING.test(r.query)).map((r) => [r.query, Number(r.calls)]));
}

describe('postgres: sessions in a table', () => {
  it('an authenticated read is one SELECT by primary key, and writes nothing', async () => {
    const { client } = await newUser();
    expect(await isLoggedIn(client)).toBe(true); // prepared on this replica... and the others:
    for (let i = 0; i < 3; i++) expect(await isLoggedIn(client)).toBe(true);
    await db.query('SELECT pg_stat_statements_reset()');
    const reads = 60;
    for (let i = 0; i < reads; i++) expect(await isLoggedIn(client)).toBe(true);

    const statements = await statementsSinceReset();
    expect([...statements.values()].reduce((a, b) => a + b, 0)).toBe(reads);
    expect([...statements.keys()]).toEqual([
      'SELECT data::text AS data FROM user_sessions WHERE id = $1 AND idle_until > now()',
    ]);
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT data FROM user_sessions WHERE id = 'x' AND idle_until > now()`,
    );
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan using \S+_pkey/);
  });

  it('the SQL merge (session_merge) does what the app merge does, for any changes', async () => {
    const key = fc.constantFrom('a', 'b', 'c', 'passport', 'user', 'i');
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const json = fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, leaf)));
    const change = fc.record(
      { path: fc.array(key, { minLength: 1, maxLength: 3 }), value: leaf },
      { requiredKeys: ['path'] },
    );
    await fc.assert(
      fc.asyncProperty(json, fc.array(change, { maxLength: 5 }), async (session, changes) => {
        const { rows } = await db.query<{ merged: Json }>(
          'SELECT session_merge($1, $2) AS merged',
          [JSON.stringify(session), JSON.stringify(changes)],
        );
        const expected = apply(structuredClone(session), changes);
        expect(defined(rows[0], 'the merged row').merged).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('expired rows are pruned in the background, in batches; live ones stay', async () => {
    const { client } = await newUser();
    const { rows: users } = await db.query<{ id: string }>('SELECT id FROM users LIMIT 1');
    await db.query(
      `INSERT INTO user_sessions (id, user_id, created_at, expires_at, ip, device, replica, data, idle_until)
       SELECT 'expired-' || n, $1, now() - interval '2 hours', now() + interval '1 hour', '', '', '',
         '{}', now() - interval '1 minute'
       FROM generate_series(1, 450) n`,
      [defined(users[0], 'a user').id],
    );
    const expired = async () => {
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM user_sessions WHERE id LIKE 'expired-%'`,
      );
      return Number(defined(rows[0], 'the count of expired rows').n);
    };
    expect(await expired()).toBe(450);
    expect(await eventually(async () => (await expired()) === 0, 15_000)).toBe(true);
    expect(await isLoggedIn(client)).toBe(true);
  });

  // Last: it takes Postgres away.
  it('Postgres stopped: 503 for session reads and logins; back: everything works, no replica restarted', async () => {
    const { client, name } = await newUser();
    const replicaPids = cluster.replicaPids();
    await cluster.stopMember('postgres');
    try {
      const answers = [
        ...(await Promise.all(Array.from({ length: 6 }, () => whoami(client)))),
        await login(cluster.client(), name),
      ];
      for (const a of answers) {
        expect(a.status).toBe(503);
        expect(a.body).toMatchObject({ message: expect.stringMatching(/is unavailable/) });
      }
      // Reported, not asserted: timing on a shared machine is noise for a test.
      process.stdout.write(
        `postgres down: 503s in ${answers.map((a) => Math.round(a.ms)).join(', ')} ms\n`,
      );
    } finally {
      await cluster.restart('postgres');
    }
    expect(await eventually(() => isLoggedIn(client), 15_000)).toBe(true);
    expect((await login(cluster.client(), name)).status).toBe(200);
    expect(cluster.replicaPids()).toEqual(replicaPids);
  }, 60_000);
});
