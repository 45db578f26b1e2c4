// The process layer against real servers: Postgres and Redis on free loopback ports in a temp
// dir, queried with the same clients the app uses, killed, restarted and stopped by PID.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createClient } from 'redis';
import {
  descendantsOf,
  freePort,
  startPostgres,
  startRedis,
  waitForPort,
  type PostgresServer,
  type RedisServer,
} from '../cluster/index.js';
import { defined } from '../src/common/defined.js';

/** process.kill(pid, 0) only checks: ESRCH means no such process. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** A server's PID, while it runs. */
function pidOf(server: PostgresServer | RedisServer): number {
  if (server.pid === null) throw new Error('expected the PID of a running server, found none');
  return server.pid;
}

const redisClient = (url: string) => createClient({ url, disableOfflineQueue: true });

async function withRedis<T>(
  url: string,
  use: (redis: ReturnType<typeof redisClient>) => Promise<T>,
): Promise<T> {
  const redis = redisClient(url);
  redis.on('error', () => undefined); // a failed connect rejects connect() below
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.destroy();
  }
}

describe('ports', () => {
  it('freePort returns a port nothing listens on, and waitForPort gives up on it in time', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const started = Date.now();
    await expect(waitForPort('127.0.0.1', port, 300)).rejects.toThrow(
      `Nothing accepted TCP connections on 127.0.0.1:${port} within 300 ms`,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('Postgres and Redis as managed processes', () => {
  let workDir: string;
  let startedPostgres: PostgresServer | undefined;
  let startedRedis: RedisServer | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'scaled-login-infra-'));
    const [postgresPort, redisPort] = [await freePort(), await freePort()];
    // Assigned one by one, so afterAll stops whichever started when the other one failed.
    await Promise.all([
      startPostgres({ dir: join(workDir, 'postgres'), port: postgresPort, fast: true }).then(
        (server) => (startedPostgres = server),
      ),
      startRedis({ dir: join(workDir, 'redis'), port: redisPort }).then(
        (server) => (startedRedis = server),
      ),
    ]);
  }, 60_000);

  afterAll(async () => {
    // Only matters when a test failed half-way: stop() is a no-op for stopped servers.
    await Promise.all([startedRedis?.stop(), startedPostgres?.stop()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('Postgres answers real queries as the app role, in the app database', async () => {
    const postgres = defined(startedPostgres, 'the Postgres server');
    await waitForPort('127.0.0.1', postgres.port, 1_000);
    const client = new Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const who = await client.query('SELECT current_user AS role, current_database() AS db');
      expect(who.rows[0]).toEqual({ role: 'app', db: 'app' });
      // The app role owns its database: it can create tables (migrations need that).
      await client.query('CREATE TABLE probe (id int PRIMARY KEY, name text NOT NULL)');
      await client.query("INSERT INTO probe VALUES (1, 'alice')");
      const rows = await client.query('SELECT name FROM probe WHERE id = 1');
      expect(rows.rows).toEqual([{ name: 'alice' }]);
    } finally {
      await client.end();
    }
  });

  it('Redis stores and returns a value', async () => {
    const redis = defined(startedRedis, 'the Redis server');
    const value = await withRedis(redis.url, async (client) => {
      await client.set('greeting', 'hello');
      return client.get('greeting');
    });
    expect(value).toBe('hello');
  });

  it('a second Redis on a taken port fails fast, with its log tail in the error', async () => {
    const redis = defined(startedRedis, 'the Redis server');
    const clash = startRedis({ dir: join(workDir, 'redis-clash'), port: redis.port });
    await expect(clash).rejects.toThrow(/exited during start-up[\s\S]*Address already in use/);
  });

  it('a second Postgres on a taken port fails fast, with its log tail in the error', async () => {
    const postgres = defined(startedPostgres, 'the Postgres server');
    const clash = startPostgres({
      dir: join(workDir, 'pg-clash'),
      port: postgres.port,
      fast: true,
    });
    await expect(clash).rejects.toThrow(/exited during start-up[\s\S]*Address already in use/);
  });

  it('kill() ends the Redis process at once', async () => {
    const redis = defined(startedRedis, 'the Redis server');
    const pid = pidOf(redis);
    expect(isAlive(pid)).toBe(true);
    await redis.kill();
    expect(isAlive(pid)).toBe(false);
    expect(redis.running).toBe(false);
  });

  it('restart() brings Redis back on the same URL, and a clean stop keeps append-only data', async () => {
    const redis = defined(startedRedis, 'the Redis server');
    expect(redis.pid).toBeNull(); // killed by the test before
    await redis.restart();
    expect(redis.pid).toEqual(expect.any(Number));
    expect(isAlive(pidOf(redis))).toBe(true);
    await withRedis(redis.url, (client) => client.set('survivor', 'still here'));

    const stoppedPid = pidOf(redis);
    await redis.stop();
    expect(isAlive(stoppedPid)).toBe(false);

    await redis.restart();
    const value = await withRedis(redis.url, (client) => client.get('survivor'));
    expect(value).toBe('still here');
  });

  it('kill() crashes Postgres; restart() recovers committed data on the same port', async () => {
    const postgres = defined(startedPostgres, 'the Postgres server');
    const client = new Client({ connectionString: postgres.url });
    await client.connect();
    // fast mode defers WAL writes; this commit must reach the WAL before the crash.
    await client.query('SET synchronous_commit TO on');
    await client.query("INSERT INTO probe VALUES (2, 'bob')");
    await client.end();

    const crashedPid = pidOf(postgres);
    await postgres.kill();
    expect(isAlive(crashedPid)).toBe(false);
    await expect(waitForPort('127.0.0.1', postgres.port, 300)).rejects.toThrow();

    await postgres.restart();
    const after = new Client({ connectionString: postgres.url });
    await after.connect();
    try {
      const rows = await after.query('SELECT name FROM probe ORDER BY id');
      expect(rows.rows).toEqual([{ name: 'alice' }, { name: 'bob' }]);
    } finally {
      await after.end();
    }
  });

  it('stop() leaves no server process behind, Postgres backends included', async () => {
    const postgres = defined(startedPostgres, 'the Postgres server');
    const redis = defined(startedRedis, 'the Redis server');
    const pids = [pidOf(postgres), pidOf(redis)];
    // Postgres forks its helpers (checkpointer, walwriter, ...): they must go too.
    const postgresHelpers = (await descendantsOf(pidOf(postgres))).map((entry) => entry.pid);
    expect(postgresHelpers.length).toBeGreaterThan(0);
    expect([...pids, ...postgresHelpers].every(isAlive)).toBe(true);

    await Promise.all([postgres.stop(), redis.stop()]);
    expect([...pids, ...postgresHelpers].filter(isAlive)).toEqual([]);

    await rm(workDir, { recursive: true, force: true });
    await expect(access(workDir)).rejects.toThrow('ENOENT');
  });
});
