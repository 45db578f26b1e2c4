/**
 * One replica of the real app against a real Postgres and Redis (started by the spec on free
 * ports in a temp dir): the full account flow, input validation, CSRF, throttling, and what
 * happens when Redis goes away and comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client as PgClient } from 'pg';
import { createClient } from 'redis';
import { defined } from '../src/common/defined.js';
import { startApp, type RunningApp } from './support/app.js';
import { startBackends, type Backends } from './support/backends.js';
import { eventually } from './support/eventually.js';
import { HttpClient } from './support/http-client.js';
import {
  PASSWORD,
  isLoggedIn,
  login,
  logout,
  register,
  uniqueName,
  whoami,
} from './support/steps.js';

let backends: Backends;
let redisApp: RunningApp;
let memoryApp: RunningApp;
/** What beforeAll got started, stopped last-started first: a failed start leaves a part to stop. */
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  backends = await startBackends('scaled-login-it');
  stops.push(() => backends.stop());
  const base = { DATABASE_URL: backends.postgres.url, REPLICA_NAME: 'it-1' };
  redisApp = await startApp({ ...base, SESSION_STORE: 'redis', REDIS_URL: backends.redis.url });
  stops.push(() => redisApp.close());
  memoryApp = await startApp({ ...base, SESSION_STORE: 'memory', LOGIN_MAX_ATTEMPTS: '3' });
  stops.push(() => memoryApp.close());
}, 90_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
}, 60_000);

const sessionCookie = (c: HttpClient) => c.cookie('sid');

describe('account flow (redis store)', () => {
  it('register -> login -> whoami -> edit -> password change revokes others -> logout -> 401', async () => {
    const name = uniqueName('flow');
    const laptop = new HttpClient(redisApp.url);
    expect((await register(laptop, name)).status).toBe(201);
    const afterRegister = sessionCookie(laptop);

    const res = await login(laptop, name.toUpperCase()); // usernames are case-insensitive
    expect(res.status).toBe(200);
    expect(res.servedBy).toBe('it-1');
    // The id rotates at login: the cookie from before login is worthless afterwards.
    expect(sessionCookie(laptop)).not.toBe(afterRegister);
    const stale = laptop.clone();
    stale.cookies.set('sid', defined(afterRegister, 'the session cookie from before login'));
    expect(await isLoggedIn(stale)).toBe(false);

    const me = await whoami(laptop);
    // One user's answer: nothing on the way, nor the browser, may keep it.
    expect(me.headers['cache-control']).toBe('no-store');
    expect(me.headers).not.toHaveProperty('etag');
    expect(me.body).toMatchObject({
      authenticated: true,
      user: { username: name },
      store: 'redis',
      servedBy: 'it-1',
    });

    const edit = await laptop.patch('/api/me', {
      json: { displayName: 'Ada L.', bio: 'line one\nline two' },
    });
    expect(edit.status).toBe(200);
    expect(edit.body).toMatchObject({ displayName: 'Ada L.', bio: 'line one\nline two' });
    expect((await whoami(laptop)).body).toMatchObject({ user: { displayName: 'Ada L.' } });

    const phone = new HttpClient(redisApp.url);
    expect((await login(phone, name)).status).toBe(200);
    const listed = await laptop.get('/api/sessions');
    expect((listed.body as { sessions: unknown[] }).sessions).toHaveLength(2);

    const wrong = await laptop.post('/api/me/password', {
      json: { currentPassword: 'nope', newPassword: 'another long password' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ fields: { currentPassword: ['is wrong'] } });
    expect(await isLoggedIn(phone)).toBe(true);

    const change = await laptop.post('/api/me/password', {
      json: { currentPassword: PASSWORD, newPassword: 'another long password' },
    });
    expect(change.status).toBe(200);
    expect(change.body).toEqual({ revokedSessions: 1 });
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await isLoggedIn(laptop)).toBe(true);
    expect((await login(new HttpClient(redisApp.url), name)).status).toBe(401);
    expect((await login(new HttpClient(redisApp.url), name, 'another long password')).status).toBe(
      200,
    );

    const beforeLogout = laptop.clone();
    expect((await logout(laptop)).status).toBe(204);
    // Logout destroyed the session in the store: the old cookie fails too.
    expect((await beforeLogout.get('/api/me')).status).toBe(401);
    const after = await laptop.get('/api/me');
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  it('lists sessions with their details and revokes one from another device', async () => {
    const name = uniqueName('rev');
    const a = new HttpClient(redisApp.url);
    const b = new HttpClient(redisApp.url);
    await register(a, name);
    await login(b, name, PASSWORD);
    const list = (await a.get('/api/sessions')).body as {
      scope: string;
      sessions: Array<Record<string, unknown>>;
    };
    expect(list.scope).toBe('cluster');
    const other = defined(
      list.sessions.find((s) => !s.current),
      "the other device's session",
    );
    expect(other).toMatchObject({ replica: 'it-1', ip: '127.0.0.1' });
    // never the raw id
    expect(String(other.id)).not.toContain(defined(b.cookie('sid'), "b's cookie").slice(4, 20));
    expect((await a.delete(`/api/sessions/${String(other.id)}`)).status).toBe(204);
    expect(await isLoggedIn(b)).toBe(false);
    expect(await isLoggedIn(a)).toBe(true);
    expect((await a.delete(`/api/sessions/${String(other.id)}`)).status).toBe(404);

    // Where it is all kept: the session in Redis under its public id, with no session id from a
    // cookie anywhere in Redis; the per-user index in Postgres, one row per live session.
    const mine = defined(
      list.sessions.find((s) => s.current),
      'the current session',
    );
    const rawSid = decodeURIComponent(defined(sessionCookie(a), "a's cookie"))
      .slice(2)
      .split('.')[0];
    const redis = createClient({ url: backends.redis.url });
    const db = new PgClient({ connectionString: backends.postgres.url });
    await Promise.all([redis.connect(), db.connect()]);
    try {
      expect(await redis.exists(`sess:${String(mine.id)}`)).toBe(1);
      const keys = await redis.keys('*');
      expect(keys.join(' ')).not.toContain(rawSid);
      for (const key of keys.filter((k) => k.startsWith('sess:'))) {
        expect(await redis.get(key)).not.toContain(rawSid);
      }
      const rows = await db.query<{ id: string }>(
        'SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1',
        [name],
      );
      expect(rows.rows.map((r) => r.id)).toEqual([mine.id]); // the revoked one's row went with it

      expect((await logout(a)).status).toBe(204);
      const after = await db.query('SELECT 1 FROM user_sessions WHERE id = $1', [mine.id]);
      expect(after.rowCount).toBe(0);
      expect(await redis.exists(`sess:${String(mine.id)}`)).toBe(0);
    } finally {
      await Promise.all([redis.close(), db.end()]);
    }
  });

  it('a duplicate username (any case) is a 409 with a field error', async () => {
    const name = uniqueName('dup');
    await register(new HttpClient(redisApp.url), name);
    const res = await register(new HttpClient(redisApp.url), name.toUpperCase());
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ fields: { username: ['is taken'] } });
  });
});

describe('bad input gets a 4xx with a clear body, never a 5xx', () => {
  const c = () => new HttpClient(redisApp.url);

  it('names every invalid field', async () => {
    const res = await c().post('/api/auth/register', {
      json: { username: 'a b', password: 'short' },
    });
    expect(res.status).toBe(400);
    const fields = (res.body as { fields: Record<string, string[]> }).fields;
    expect(Object.keys(fields).sort()).toEqual(['password', 'username']);
  });

  it('login without fields is a 400, not a 401', async () => {
    const res = await c().post('/api/auth/login', { json: {} });
    expect(res.status).toBe(400);
    expect(Object.keys((res.body as { fields: object }).fields).sort()).toEqual([
      'password',
      'username',
    ]);
  });

  it('refuses unknown fields, malformed JSON, oversized bodies and form posts to the API', async () => {
    const client = c();
    await register(client, uniqueName('bad'));
    expect((await client.patch('/api/me', { json: { isAdmin: true } })).status).toBe(400);
    expect((await client.patch('/api/me', { json: { bio: 'a\u0000b' } })).status).toBe(400);
    expect(
      (
        await client.patch('/api/me', {
          raw: '{"bio":',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
    const big = await client.patch('/api/me', { json: { bio: 'x'.repeat(40_000) } });
    expect(big.status).toBe(413);
    const form = await client.post('/api/auth/login', {
      raw: 'username=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const crossSite = await client.post('/api/auth/logout', {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    expect(await isLoggedIn(client)).toBe(true);
  });
});

describe('pages', () => {
  it('redirect to the login page when not logged in', async () => {
    const res = await new HttpClient(redisApp.url).get('/profile', {
      headers: { accept: 'text/html' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login?next=%2Fprofile');
  });

  it('the login form needs its CSRF token, and with it logs in', async () => {
    const name = uniqueName('form');
    await register(new HttpClient(redisApp.url), name);
    const browser = new HttpClient(redisApp.url);
    const forged = await browser.post('/login', { form: { username: name, password: PASSWORD } });
    expect(forged.status).toBe(403);

    const page = await browser.get('/login', { headers: { accept: 'text/html' } });
    expect(page.text).toContain('served by <strong id="served-by">it-1</strong>');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    expect(token).toBeTruthy();
    const ok = await browser.post('/login', {
      form: {
        _csrf: defined(token, 'the CSRF token'),
        username: name,
        password: PASSWORD,
        next: '/sessions',
      },
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/sessions');
    const sessions = await browser.get('/sessions', { headers: { accept: 'text/html' } });
    expect(sessions.status).toBe(200);
    expect(sessions.text).toContain('this device');
  });

  it('a wrong password re-renders the form with a message and keeps the username', async () => {
    const browser = new HttpClient(redisApp.url);
    const page = await browser.get('/login', { headers: { accept: 'text/html' } });
    const token = defined(/name="_csrf" value="([^"]+)"/.exec(page.text)?.[1], 'the CSRF token');
    const res = await browser.post('/login', {
      form: { _csrf: token, username: 'nobody-here', password: 'x' },
    });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Wrong username or password.');
    expect(res.text).toContain('value="nobody-here"');
  });
});

describe('login throttling (memory store, limit 3)', () => {
  it('locks a username after too many failures, with 429 even for the right password', async () => {
    const name = uniqueName('brute');
    await register(new HttpClient(memoryApp.url), name);
    for (let i = 0; i < 3; i++)
      expect((await login(new HttpClient(memoryApp.url), name, 'wrong-password')).status).toBe(401);
    const locked = await login(new HttpClient(memoryApp.url), name);
    expect(locked.status).toBe(429);
    // Another user from the same address is not locked out by that.
    const other = uniqueName('fine');
    await register(new HttpClient(memoryApp.url), other);
    expect((await login(new HttpClient(memoryApp.url), other)).status).toBe(200);
  });

  it('the memory registry says it only sees this replica', async () => {
    const c = new HttpClient(memoryApp.url);
    await register(c, uniqueName('mem'));
    expect((await c.get('/api/sessions')).body).toMatchObject({ scope: 'replica' });
    expect((await whoami(c)).body).toMatchObject({ store: 'memory' });
  });
});

describe('health', () => {
  it('live and ready answer 200 with the replica name', async () => {
    const c = new HttpClient(redisApp.url);
    expect((await c.get('/health/live')).body).toMatchObject({ status: 'ok', replica: 'it-1' });
    expect((await c.get('/health/ready')).body).toMatchObject({
      status: 'ok',
      checks: { database: { ok: true } },
    });
  });
});

// Last: it stops Redis.
describe('Redis goes away and comes back', () => {
  it('answers 503 fast while Redis is down, then recovers without a restart and keeps sessions', async () => {
    const c = new HttpClient(redisApp.url);
    await register(c, uniqueName('outage'));
    expect(await isLoggedIn(c)).toBe(true);

    await backends.redis.stop(); // clean shutdown flushes the append-only file
    const down = await whoami(c);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      message: expect.stringContaining('session store is unavailable'),
    });
    // The point is "no hang": without disableOfflineQueue this request waits until Redis returns.
    expect(down.ms).toBeLessThan(1000);
    expect((await c.get('/health/ready')).status).toBe(503);
    expect((await c.get('/health/live')).status).toBe(200);

    await backends.redis.restart();
    // The client reconnects with backoff (at most 1 s between attempts); give it a few seconds.
    expect(await eventually(() => isLoggedIn(c), 10_000)).toBe(true);
    expect((await c.get('/health/ready')).status).toBe(200);
  });
});

describe('Redis stalls (up, but not answering)', () => {
  it('answers 503 within the backend timeout instead of hanging, and carries on when Redis does', async () => {
    const c = new HttpClient(redisApp.url);
    await register(c, uniqueName('stall'));
    const timeoutMs = redisApp.config.backendTimeoutMs;
    const { pid } = backends.redis;
    if (pid === null) throw new Error('redis is not running');

    process.kill(pid, 'SIGSTOP'); // the connection stays open; nothing answers
    try {
      const stalled = await whoami(c);
      expect(stalled.status).toBe(503);
      expect(stalled.body).toMatchObject({
        message: expect.stringContaining('session store is unavailable'),
      });
      expect(stalled.ms).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(stalled.ms).toBeLessThan(timeoutMs * 1.25 + 500);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await isLoggedIn(c)).toBe(true);
  });
});
