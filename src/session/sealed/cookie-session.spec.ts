// The session sealed into its cookie, through SessionMiddleware on a real express app: what passport
// and the app do to a session (login, reads, a sliding touch, logout) and what the cookie becomes.
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import express, { type Request, type Response } from 'express';
import passport from 'passport';
import request from 'supertest';
import { AppConfig } from '../../config/app-config.js';
import { Outages } from '../../common/outages.js';
import type { SessionBackend } from '../backends/backend.js';
import { SessionMiddleware } from '../session.middleware.js';
import { endSession } from '../end-session.js';
import { publicSessionId, sessionOf } from '../session.types.js';
import { CookieSeal } from './cookie-seal.js';
import type { Revocations } from './cookie-session.js';
import { defined } from '../../common/defined.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app:pw@localhost:5432/app',
  SESSION_SECRET: 'a'.repeat(32),
  SESSION_TOUCH_INTERVAL: '60',
});
const NAME = config.session.cookieName;
const alice = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

beforeAll(() => {
  passport.serializeUser(
    (req: Request, user: Express.User, done: (err: null, id: Express.User) => void) => {
      const now = Date.now();
      req.session.meta = { createdAt: now, lastSeenAt: now, ip: '', userAgent: 'x', replica: 'a' };
      done(null, user);
    },
  );
  passport.deserializeUser((stored: Express.User, done) => {
    done(null, stored);
  });
});

afterEach(() => {
  jest.restoreAllMocks();
});

/** A denylist in memory: what the Redis one promises, without Redis. */
class ListedRevocations implements Revocations {
  revoked = new Map<string, number>();
  cutOffs = new Map<string, { at: number; keep: string | null }>();
  down = false;
  /** Only writes fail: the lookup works, the revocation does not. */
  writesDown = false;
  async allows(s: { publicId: string; userId: string; createdAt: number }) {
    if (this.down) throw new Error('denylist down');
    const cut = this.cutOffs.get(s.userId);
    // An entry lapses when its time is up, as a Redis key with a TTL does.
    if ((this.revoked.get(s.publicId) ?? 0) > Date.now()) return false;
    return !cut || s.createdAt >= cut.at || s.publicId === cut.keep;
  }
  async revoke(publicId: string, until: number) {
    if (this.down || this.writesDown) throw new Error('denylist down');
    this.revoked.set(publicId, until);
  }
}

function app(o: { revocations?: Revocations; seal?: CookieSeal } = {}) {
  const backend = {
    sealed: { seal: o.seal ?? new CookieSeal(config.session.secrets), revocations: o.revocations },
  } as unknown as SessionBackend;
  const middleware = new SessionMiddleware(config, backend, new Outages([]));
  const a = express();
  a.use((req, res, next) => {
    middleware.use(req, res, next);
  });
  a.post('/login', (req: Request, res: Response, next) => {
    req.logIn(alice, (err) => {
      if (err) next(err);
      else res.json({ sid: req.sessionID });
    });
  });
  a.post('/logout', (req: Request, res: Response, next) => {
    endSession(req, res, NAME).then(() => {
      res.status(200).json({ session: sessionOf(req) ?? null });
    }, next);
  });
  a.post('/rename', (req: Request, res: Response) => {
    defined(req.session.passport?.user, 'the logged-in user').displayName = req.query.to as string;
    if (req.query.then) res.redirect(303, '/me');
    else res.json({ ok: true });
  });
  a.get('/me', async (req: Request, res: Response) => {
    res.json({
      user: req.user ?? null,
      sid: req.sessionID,
      identity: await middleware.identify(req),
    });
  });
  a.use((err: Error, _req: Request, res: Response, _next: unknown) => {
    res.status(500).json({ error: err.message });
  });
  return a;
}

/** The Set-Cookie lines of an answer (none, one or several). */
const setCookies = (res: request.Response): string[] => {
  const lines: unknown = res.headers['set-cookie'];
  return Array.isArray(lines) ? lines.map(String) : typeof lines === 'string' ? [lines] : [];
};

const sessionCookie = (res: request.Response): string | undefined =>
  setCookies(res)
    .find((c) => c.startsWith(`${NAME}=`))
    ?.split(';', 1)[0];

/** The session cookie an answer must set. */
const cookieSetBy = (res: request.Response): string =>
  defined(sessionCookie(res), 'a session cookie in the answer');

async function loggedIn(a: express.Express) {
  const res = await request(a).post('/login').expect(200);
  const cookie = cookieSetBy(res);
  return { cookie, sid: (res.body as { sid: string }).sid };
}

describe('a session sealed into its cookie', () => {
  it('login seals the session into the cookie (HttpOnly, SameSite, an expiry); a read sets none', async () => {
    const a = app();
    const res = await request(a).post('/login').expect(200);
    const line = defined(
      setCookies(res).find((c) => c.startsWith(NAME)),
      'the session cookie line',
    );
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Lax/);
    expect(line).toMatch(/Max-Age=\d+/);
    expect(line).not.toContain('alice');
    const cookie = cookieSetBy(res);
    const me = await request(a).get('/me').set('Cookie', cookie).expect(200);
    expect(me.body).toMatchObject({ user: alice, sid: (res.body as { sid: string }).sid });
    expect(sessionCookie(me)).toBeUndefined();
  });

  it('a change is sealed again under the same id: the CSRF identity does not move', async () => {
    const a = app();
    const { cookie, sid } = await loggedIn(a);
    const renamed = await request(a).post('/rename?to=Ally').set('Cookie', cookie).expect(200);
    const resealed = cookieSetBy(renamed);
    expect(resealed).not.toBe(cookie);
    const me = await request(a).get('/me').set('Cookie', resealed).expect(200);
    expect(me.body).toMatchObject({ user: { ...alice, displayName: 'Ally' }, sid, identity: sid });
    // The old cookie is not made invalid by the new one: a sealed cookie cannot be (see stateless).
    expect((await request(a).get('/me').set('Cookie', cookie)).body).toMatchObject({ sid });
  });

  it('the idle timeout slides: past the touch interval a read seals a later expiry', async () => {
    const a = app();
    const t0 = Date.now();
    const { cookie } = await loggedIn(a);
    jest.spyOn(Date, 'now').mockReturnValue(t0 + 61_000);
    const touched = await request(a).get('/me').set('Cookie', cookie).expect(200);
    const line = setCookies(touched).find((c) => c.startsWith(NAME));
    expect(line).toBeDefined();
    const seal = new CookieSeal(config.session.secrets);
    const before = defined(
      await seal.open(cookie.slice(NAME.length + 1), t0),
      'the session in the first cookie',
    );
    const after = defined(
      await seal.open(cookieSetBy(touched).slice(NAME.length + 1), t0 + 61_000),
      'the session in the touched cookie',
    );
    expect(after.expiresAt - before.expiresAt).toBeGreaterThanOrEqual(60_000);
    expect(after.sid).toBe(before.sid);
  });

  it('without a denylist, a copy of the cookie outlives the logout (the `stateless` row)', async () => {
    const a = app();
    const { cookie } = await loggedIn(a);
    const out = await request(a)
      .post('/logout')
      .set('Cookie', cookie)
      .expect(200, { session: null });
    expect(setCookies(out)).toEqual([
      expect.stringMatching(new RegExp(`^${NAME}=;.*Expires=Thu, 01 Jan 1970`)),
    ]);
    expect((await request(a).get('/me').set('Cookie', cookie)).body).toMatchObject({ user: alice });
  });

  it('with a denylist, logout refuses every copy until the cookie would have expired', async () => {
    const revocations = new ListedRevocations();
    const a = app({ revocations });
    const t0 = Date.now();
    const { cookie, sid } = await loggedIn(a);
    // A copy sealed later (a request in flight, a stolen cookie kept in use) expires later.
    jest.spyOn(Date, 'now').mockReturnValue(t0 + 61_000);
    const copy = cookieSetBy(await request(a).get('/me').set('Cookie', cookie));
    await request(a).post('/logout').set('Cookie', cookie).expect(200);
    expect([...revocations.revoked.keys()]).toEqual([publicSessionId(sid)]);
    // Listed until the session's absolute end: no copy of it can open after that.
    const until = defined([...revocations.revoked.values()][0], 'a revoked id');
    expect(until).toBeGreaterThanOrEqual(t0 + config.session.absoluteTimeoutMs);
    for (const at of [t0 + 61_000, t0 + config.session.idleTimeoutMs + 1000, until - 1000]) {
      jest.spyOn(Date, 'now').mockReturnValue(at);
      for (const c of [cookie, copy]) {
        const late = await request(a).get('/me').set('Cookie', c).expect(200);
        expect(late.body).toMatchObject({ user: null });
      }
    }
    // And the browser is told to drop a refused cookie, once.
    jest.spyOn(Date, 'now').mockReturnValue(t0 + 62_000);
    const refused = await request(a).get('/me').set('Cookie', copy).expect(200);
    expect(setCookies(refused)).toEqual([expect.stringMatching(new RegExp(`^${NAME}=;`))]);
  });

  it('a login over a live session retires the old id, as express-session destroys the old session', async () => {
    const revocations = new ListedRevocations();
    const a = app({ revocations });
    const first = await loggedIn(a);
    const again = await request(a).post('/login').set('Cookie', first.cookie).expect(200);
    expect((again.body as { sid: string }).sid).not.toBe(first.sid);
    expect([...revocations.revoked.keys()]).toEqual([publicSessionId(first.sid)]);
    expect((await request(a).get('/me').set('Cookie', first.cookie)).body).toMatchObject({
      user: null,
    });
    const second = cookieSetBy(again);
    expect((await request(a).get('/me').set('Cookie', second)).body).toMatchObject({ user: alice });
  });

  it('a revocation that fails ends nothing: an error, the cookie kept, the session still live', async () => {
    const revocations = new ListedRevocations();
    const a = app({ revocations });
    const { cookie } = await loggedIn(a);
    revocations.writesDown = true;
    const failed = await request(a).post('/logout').set('Cookie', cookie).expect(500);
    expect(failed.headers['set-cookie']).toBeUndefined();
    revocations.writesDown = false;
    expect((await request(a).get('/me').set('Cookie', cookie)).body).toMatchObject({ user: alice });
    await request(a).post('/logout').set('Cookie', cookie).expect(200);
    expect((await request(a).get('/me').set('Cookie', cookie)).body).toMatchObject({ user: null });
  });

  it('a cut-off refuses the user’s older sessions but the one it keeps, and none begun after', async () => {
    const revocations = new ListedRevocations();
    const a = app({ revocations });
    const laptop = await loggedIn(a);
    const phone = await loggedIn(a);
    revocations.cutOffs.set(alice.id, { at: Date.now() + 1, keep: publicSessionId(laptop.sid) });
    expect((await request(a).get('/me').set('Cookie', laptop.cookie)).body).toMatchObject({
      user: alice,
    });
    expect((await request(a).get('/me').set('Cookie', phone.cookie)).body).toMatchObject({
      user: null,
    });
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 10);
    const later = await loggedIn(a);
    expect((await request(a).get('/me').set('Cookie', later.cookie)).body).toMatchObject({
      user: alice,
    });
  });

  it('a denylist that cannot be asked fails the request; it never lets the cookie through', async () => {
    const revocations = new ListedRevocations();
    const a = app({ revocations });
    const { cookie } = await loggedIn(a);
    revocations.down = true;
    await request(a).get('/me').set('Cookie', cookie).expect(500, { error: 'denylist down' });
    await request(a).post('/logout').set('Cookie', cookie).expect(500, { error: 'denylist down' });
    // A cookie that cannot be checked is not cleared either: the browser may try again.
  });

  it('a session that no longer fits into a cookie is a 500 that says so, with no cookie', async () => {
    const a = app({ seal: new CookieSeal(config.session.secrets, 700) });
    const { cookie } = await loggedIn(a);
    const res = await request(a)
      .post(`/rename?then=go&to=${'x'.repeat(250)}`)
      .set('Cookie', cookie);
    expect(res.status).toBe(500);
    // The redirect it replaces is gone with it.
    expect(res.headers.location).toBeUndefined();
    expect((res.body as { message: string }).message).toMatch(
      /^The session was not saved: the session needs a \d+-byte cookie; a cookie holds at most 700 bytes\.$/,
    );
    expect(sessionCookie(res)).toBeUndefined();
  });
});
