/**
 * The `stateless` rows, beyond what the guarantee suite checks for every profile: what "log out my
 * other sessions" and a password change can and cannot do without server state, and the denylist
 * of `stateless-revocable` with its Redis down (fast 503s that never let a cookie through, the
 * revocations still there after Redis returns). Hostile cookies: hostile-cookie.e2e-spec.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { knownOn, useCluster, type TestCluster } from './support/cluster.js';
import { eventually, sleep } from './support/eventually.js';
import {
  PASSWORD,
  isLoggedIn,
  login,
  logout,
  register,
  uniqueName,
  whoami,
} from './support/steps.js';

const everywhere = (cluster: TestCluster, value: boolean) =>
  Object.fromEntries(cluster.replicas.map((r) => [r, value]));

/** A user logged in on three devices, each its own client through nginx. */
async function threeDevices(cluster: TestCluster) {
  const name = uniqueName('devices');
  const [laptop, phone, tablet] = [cluster.client(), cluster.client(), cluster.client()];
  expect((await register(laptop, name)).status).toBe(201);
  expect((await login(phone, name)).status).toBe(200);
  expect((await login(tablet, name)).status).toBe(200);
  return { name, laptop, phone, tablet };
}

describe('stateless: nothing on the server to end', () => {
  const cluster = useCluster('stateless');

  it('"log out my other sessions" is refused, saying why; the other devices stay logged in', async () => {
    const { laptop, phone } = await threeDevices(cluster);
    const res = await laptop.delete('/api/sessions');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ message: expect.stringContaining('keeps no sessions') });
    expect(await knownOn(cluster, phone)).toEqual(everywhere(cluster, true));
    const list = (await laptop.get('/api/sessions')).body as {
      scope: string;
      canEndOthers: boolean;
      sessions: Array<{ current: boolean }>;
    };
    expect(list).toMatchObject({ scope: 'none', canEndOthers: false });
    expect(list.sessions.map((s) => s.current)).toEqual([true]);
  });

  it('a password change works, and says the other devices stay logged in until their cookies expire', async () => {
    const { name, laptop, phone } = await threeDevices(cluster);
    const res = await laptop.post('/api/me/password', {
      json: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
    });
    expect(res.body).toEqual({ revokedSessions: 0, othersStillValid: true });
    expect(await knownOn(cluster, phone)).toEqual(everywhere(cluster, true));
    expect((await login(cluster.client(), name, 'a brand new passphrase')).status).toBe(200);
  });
});

describe('stateless-revocable: a denylist in Redis', () => {
  const cluster = useCluster('stateless-revocable');

  it('"log out my other sessions" and a password change end the others on every replica, not the caller', async () => {
    const { laptop, phone, tablet } = await threeDevices(cluster);
    expect((await laptop.delete('/api/sessions')).body).toEqual({ revoked: null });
    expect(await knownOn(cluster, phone)).toEqual(everywhere(cluster, false));
    expect(await knownOn(cluster, tablet)).toEqual(everywhere(cluster, false));
    expect(await knownOn(cluster, laptop)).toEqual(everywhere(cluster, true));
    // A session begun after the cut-off is not caught by it.
    const later = await threeDevices(cluster);
    const res = await later.tablet.post('/api/me/password', {
      json: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
    });
    expect(res.body).toEqual({ revokedSessions: null });
    expect(await knownOn(cluster, later.laptop)).toEqual(everywhere(cluster, false));
    expect(await knownOn(cluster, later.tablet)).toEqual(everywhere(cluster, true));
  });

  // Last: it takes Redis away.
  it('Redis killed: fast 503s for sessions, never a pass; a logout keeps its cookie; Redis back: revocations still hold', async () => {
    const { laptop, phone } = await threeDevices(cluster);
    const stolen = phone.clone();
    expect((await logout(phone)).status).toBe(204);
    // appendfsync everysec: the revocation is on disk within a second. Let it get there.
    await sleep(1500);
    const redis = defined(cluster.storeMembers()[0], 'the Redis server');
    await cluster.kill(redis);
    try {
      for (const client of [laptop, stolen]) {
        const a = await whoami(client);
        expect(a.status).toBe(503);
        expect(a.ms).toBeLessThan(1000);
      }
      // A stranger needs no lookup: served.
      expect((await whoami(cluster.client())).status).toBe(200);
      const out = await logout(laptop.clone());
      expect(out.status).toBe(503);
      expect(out.headers['set-cookie']).toBeUndefined();
    } finally {
      await cluster.restart(redis);
    }
    expect(await eventually(() => isLoggedIn(laptop), 10_000)).toBe(true);
    expect(await knownOn(cluster, stolen)).toEqual(everywhere(cluster, false));
  }, 30_000);
});
