/**
 * Operations without logouts (redis profile): a rolling restart under load, rotating the session
 * secret, and Postgres going away while logged-in users keep working.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { useCluster, type TestCluster } from './support/cluster.js';
import { eventually, sleep } from './support/eventually.js';
import type { HttpClient } from './support/http-client.js';
import { background } from './support/load.js';
import { isLoggedIn, login, register, uniqueName } from './support/steps.js';

async function loggedIn(cluster: TestCluster, n: number, firstSubnet: number) {
  const clients: HttpClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = cluster.client(firstSubnet + i);
    await register(c, uniqueName('ops'));
    clients.push(c);
  }
  return clients;
}

describe('rolling restart under load', () => {
  const cluster = useCluster('redis');

  it('every replica restarted in turn (SIGTERM, drain, start): 0 failed requests, 0 logouts', async () => {
    const clients = await loggedIn(cluster, 4, 100);
    const roll = cluster.rollingRestart();
    const tally = await background(clients, roll);
    await roll;
    expect(tally.requests).toBeGreaterThan(100);
    expect(tally.failed).toEqual([]);
    expect(tally.loggedOut).toBe(0);
  }, 60_000);
});

describe('secret rotation', () => {
  const OLD = 'old-secret-old-secret-old-secret-0123456789';
  const NEW = 'new-secret-new-secret-new-secret-0123456789';
  const cluster = useCluster('redis', {
    env: { SESSION_SECRET: OLD, SESSION_TOUCH_INTERVAL: '1' },
  });

  const rollAll = (secret: string) => cluster.rollingRestart({ SESSION_SECRET: secret });

  it('add the new secret, let it sign, drop the old one: active users are never logged out', async () => {
    const active = await loggedIn(cluster, 3, 110);
    const idle = defined((await loggedIn(cluster, 1, 120))[0], 'the idle client');
    const watched = defined(active[0], 'an active client');
    const oldCookie = watched.cookie('sid');
    const steps = (async () => {
      await rollAll(`${OLD},${NEW}`); // 1. every replica accepts the new secret; old still signs
      await rollAll(`${NEW},${OLD}`); // 2. new signs, old still verifies
      await sleep(2500); // active sessions are saved (touch interval 1 s) and re-signed with NEW
      await rollAll(NEW); // 3. old secret gone
    })();
    const tally = await background(active, steps);
    await steps;
    expect(tally.failed).toEqual([]);
    expect(tally.loggedOut).toBe(0);
    // The active client's cookie was re-signed along the way, and still works with NEW only.
    expect(watched.cookie('sid')).not.toBe(oldCookie);
    for (const c of active) expect(await isLoggedIn(c)).toBe(true);
    // A client that sent nothing since before step 2 still holds an OLD-signed cookie: dropping
    // the old secret logs it out. That is why step 3 waits for the idle timeout in production.
    expect(await isLoggedIn(idle)).toBe(false);
  }, 90_000);
});

describe('Postgres goes away', () => {
  // A durable Postgres: the throwaway one (synchronous_commit off) may lose the last commits
  // when it is killed, and this test kills it.
  const cluster = useCluster('redis', { fastPostgres: false });

  it('logged-in users keep working, register/login answer 503 fast, and it recovers by itself', async () => {
    const user = cluster.client();
    const name = uniqueName('pgdown');
    await register(user, name);
    const replicaPids = cluster.replicaPids();

    await cluster.kill('postgres');
    try {
      expect(await isLoggedIn(user)).toBe(true); // the session answers who you are, no database needed
      for (const attempt of [
        () => login(cluster.client(), name),
        () => register(cluster.client(), uniqueName('pgdown')),
      ]) {
        const res = await attempt();
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({
          message: expect.stringContaining('database is unavailable'),
        });
        expect(res.ms).toBeLessThan(2000); // a clear answer, not a hang (includes the argon2 hash)
      }
      expect((await user.get('/api/me')).status).toBe(503);
    } finally {
      await cluster.restart('postgres');
    }
    expect(
      await eventually(async () => (await login(cluster.client(), name)).status === 200, 15_000),
    ).toBe(true);
    expect((await user.get('/api/me')).status).toBe(200);
    expect(cluster.replicaPids()).toEqual(replicaPids);
  }, 60_000);
});
