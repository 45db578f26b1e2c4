/**
 * Security guarantees beyond the guarantee suite's (which checks the login limit's reach and
 * logout's finality for every profile): the per-address login limit, revocation that stays final
 * against requests in flight, no lost updates from parallel tabs, session fixation, and HTTPS with
 * forwarded headers trusted only from nginx.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { HttpClient } from './support/http-client.js';
import { useCluster } from './support/cluster.js';
import { sleep } from './support/eventually.js';
import { PASSWORD, isLoggedIn, login, register, uniqueName, whoami } from './support/steps.js';

const displayNameOf = async (c: HttpClient) =>
  ((await whoami(c)).body as { user?: { displayName: string } }).user?.displayName;

describe('login throttling per client address (redis profile)', () => {
  const cluster = useCluster('redis', { env: { LOGIN_MAX_ATTEMPTS: '5' } });

  it('one client address gets 20 attempts over any usernames, then 429; other addresses do not', async () => {
    const attacker = 70;
    for (let i = 0; i < 20; i++)
      expect((await login(cluster.client(attacker), uniqueName('spray'), 'x')).status).toBe(401);
    expect((await login(cluster.client(attacker), uniqueName('spray'), 'x')).status).toBe(429);
    expect((await login(cluster.client(71), uniqueName('spray'), 'x')).status).toBe(401);
  });
});

describe('sessions under concurrency (redis profile, slow password hashing)', () => {
  // A costly argon2 (128 MiB) makes a password check take a few hundred ms: the slow request.
  // A touch interval of 1 s makes every later request write its "last seen" to the session.
  const cluster = useCluster('redis', {
    env: { ARGON2_MEMORY_KIB: '131072', SESSION_TOUCH_INTERVAL: '1' },
  });

  /** A request that loads the session, spends a while hashing, then saves the session. */
  const slowRequest = (c: HttpClient) =>
    c.post('/api/me/password', {
      json: { currentPassword: 'not the password', newPassword: 'whatever whatever' },
    });

  it('revocation is final too', async () => {
    const name = uniqueName('final');
    const laptop = cluster.client();
    const phone = cluster.client();
    await register(laptop, name);
    await login(phone, name);
    await sleep(1100);
    let slowDone = 0;
    const inFlight = slowRequest(phone.clone()).then((r) => ((slowDone = performance.now()), r));
    await sleep(50);
    const list = (await laptop.get('/api/sessions')).body as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    const phoneSession = defined(
      list.sessions.find((s) => !s.current),
      "the phone's session",
    );
    expect((await laptop.delete(`/api/sessions/${phoneSession.id}`)).status).toBe(204);
    const revokedAt = performance.now();
    // It had loaded the session (400, not 401) and finished after the revocation...
    expect((await inFlight).status).toBe(400);
    expect(slowDone).toBeGreaterThan(revokedAt);
    // ...and brought nothing back, on any replica.
    for (const r of cluster.replicas)
      expect(await isLoggedIn(cluster.direct(r, phone))).toBe(false);
  });

  it('two tabs writing at once: neither change is lost', async () => {
    const tab1 = cluster.client();
    await register(tab1, uniqueName('tabs'));
    const tab2 = tab1.clone();
    await sleep(1100);
    const started = Date.now();
    let slowDone = 0;
    let editDone = 0;
    const slow = slowRequest(tab1).then((r) => ((slowDone = Date.now()), r));
    await sleep(50);
    const edit = tab2
      .patch('/api/me', { json: { displayName: 'Renamed in tab 2' } })
      .then((r) => ((editDone = Date.now()), r));
    expect((await edit).status).toBe(200);
    expect((await slow).status).toBe(400);
    // The race really happened: the edit was saved while the slow request still held the old copy.
    expect(editDone).toBeLessThan(slowDone);
    expect(await displayNameOf(tab1)).toBe('Renamed in tab 2');
    // ...and the slow request's own write (last seen) went in as well. Redis keeps whole seconds;
    // the 1.1 s wait after registering keeps that second later than the registration's.
    const sessions = (await tab1.get('/api/sessions')).body as {
      sessions: Array<{ current: boolean; lastSeenAt: string }>;
    };
    const current = defined(
      sessions.sessions.find((s) => s.current),
      'the current session',
    );
    expect(Date.parse(current.lastSeenAt)).toBeGreaterThanOrEqual(
      Math.floor(started / 1000) * 1000,
    );
  });
});

describe('session fixation and HTTPS (redis profile)', () => {
  const cluster = useCluster('redis');

  it('a session id planted before login is worthless after it', async () => {
    const attacker = cluster.client();
    await register(attacker, uniqueName('attacker'));
    const planted = defined(attacker.cookie('sid'), "the attacker's cookie");
    const victimName = uniqueName('victim');
    await register(cluster.client(), victimName);

    const victim = cluster.client();
    victim.cookies.set('sid', planted); // e.g. set through a subdomain or an injected link
    expect((await login(victim, victimName)).status).toBe(200);
    expect(victim.cookie('sid')).not.toBe(planted);
    const withPlanted = cluster.client();
    withPlanted.cookies.set('sid', planted);
    expect((await whoami(withPlanted)).body).not.toMatchObject({ user: { username: victimName } });

    const forged = cluster.client();
    forged.cookies.set('sid', 'attacker-chosen-id');
    expect((await login(forged, victimName)).status).toBe(200);
    expect(forged.cookie('sid')).not.toContain('attacker-chosen-id');
  });

  it('over https the session cookie is Secure; over http it is not', async () => {
    const secure = await cluster.httpsClient();
    const res = await register(secure, uniqueName('tls'));
    expect(res.status).toBe(201);
    expect(String(res.headers['set-cookie'])).toMatch(/;\s*Secure/i);
    expect(await isLoggedIn(secure)).toBe(true);

    const plain = await register(cluster.client(), uniqueName('plain'));
    expect(String(plain.headers['set-cookie'])).not.toMatch(/;\s*Secure/i);
  });

  it('forwarded headers are believed only from nginx', async () => {
    // Through nginx with forged headers: nginx overwrites them with the real client address.
    const viaNginx = cluster.client(88);
    await viaNginx.post('/api/auth/register', {
      json: { username: uniqueName('xff'), password: PASSWORD },
      headers: { 'x-forwarded-for': '6.6.6.6' },
    });
    const mine = (c: HttpClient) =>
      c.get('/api/sessions').then((r) =>
        defined(
          (r.body as { sessions: Array<{ current: boolean; ip: string }> }).sessions.find(
            (s) => s.current,
          ),
          'the current session',
        ),
      );
    expect((await mine(viaNginx)).ip).toBe('127.0.88.1');

    // Straight to a replica from another address, claiming https and another IP: ignored.
    const replica = new HttpClient(cluster.replicaUrl('app-1'), '127.0.89.1');
    const res = await replica.post('/api/auth/register', {
      json: { username: uniqueName('xff'), password: PASSWORD },
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' },
    });
    expect(res.status).toBe(201);
    expect(String(res.headers['set-cookie'])).not.toMatch(/;\s*Secure/i);
    expect((await mine(replica)).ip).toBe('127.0.89.1');
  });
});
