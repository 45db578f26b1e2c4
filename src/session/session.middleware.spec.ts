// The session -> req.user step, on a real express-session with its MemoryStore (no Redis).
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type Request, type Response } from 'express';
import { MemoryStore } from 'express-session';
import passport from 'passport';
import request from 'supertest';
import { AppConfig } from '../config/app-config.js';
import { SessionMiddleware } from './session.middleware.js';
import { endSession } from './end-session.js';
import { Outages } from '../common/outages.js';
import type { SessionBackend } from './backends/backend.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app:pw@localhost:5432/app',
  SESSION_SECRET: 'a'.repeat(32),
});
const alice = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

/** What the deserializer answers for a stored user: the user itself unless a test says otherwise. */
let deserialize: (stored: unknown) => unknown = (stored) => stored;

beforeAll(() => {
  passport.serializeUser((user, done) => {
    done(null, user);
  });
  passport.deserializeUser((stored: unknown, done) => {
    try {
      done(null, deserialize(stored) as Express.User | false);
    } catch (err) {
      done(err);
    }
  });
});

afterEach(() => {
  deserialize = (stored) => stored;
});

function app(store = new MemoryStore()) {
  const middleware = new SessionMiddleware(
    config,
    { store } as unknown as SessionBackend,
    new Outages([]),
  );
  const a = express();
  a.use((req, res, next) => {
    middleware.use(req, res, next);
  });
  a.post('/login', (req: Request, res: Response, next) => {
    req.logIn(alice, (err) => {
      if (err) next(err);
      else res.json({ sessionID: req.sessionID });
    });
  });
  a.post('/logout', (req: Request, res: Response, next) => {
    req.logOut((err) => {
      if (err) next(err);
      else res.json({ user: req.user ?? null });
    });
  });
  a.post('/end', (req: Request, res: Response, next) => {
    endSession(req, res, config.session.cookieName).then(
      () => res.status(204).end(),
      (err: unknown) => {
        next(err);
      },
    );
  });
  a.get('/me', (req: Request, res: Response) => {
    res.json({
      authenticated: req.isAuthenticated(),
      unauthenticated: req.isUnauthenticated(),
      user: req.user ?? null,
      ownMethods: ['logIn', 'logOut', 'isAuthenticated', '_sessionManager'].filter((k) =>
        Object.hasOwn(req, k),
      ),
    });
  });
  a.use((err: Error, _req: Request, res: Response, _next: unknown) => {
    res.status(500).json({ error: err.message });
  });
  return { app: a, store };
}

async function loggedIn(a: express.Express) {
  const res = await request(a).post('/login').expect(200);
  const { sessionID } = res.body as { sessionID: string };
  return { cookie: res.headers['set-cookie'] as unknown as string[], sid: sessionID };
}

describe('SessionMiddleware: session -> req.user', () => {
  it('logs in with passport (new session id) and restores the user on the next request', async () => {
    const { app: a } = app();
    const first = await request(a).get('/me').expect(200);
    expect(first.body).toMatchObject({ authenticated: false, unauthenticated: true, user: null });
    expect(first.headers['set-cookie']).toBeUndefined(); // nothing stored, no cookie

    const { cookie } = await loggedIn(a);
    const me = await request(a).get('/me').set('Cookie', cookie).expect(200);

    expect(me.body).toMatchObject({ authenticated: true, unauthenticated: false, user: alice });
  });

  it("puts passport's request methods on the app's request prototype, not on each request", async () => {
    const { app: a } = app();
    const { cookie } = await loggedIn(a);

    const me = await request(a).get('/me').set('Cookie', cookie).expect(200);

    expect((me.body as { ownMethods: string[] }).ownMethods).toEqual([]);
    expect(Object.hasOwn(a.request, 'isAuthenticated')).toBe(true);
    // Another app is left alone until its own first request.
    expect(Object.hasOwn(express().request, 'isAuthenticated')).toBe(false);
  });

  it('logOut() clears the user from the session', async () => {
    const { app: a } = app();
    const { cookie } = await loggedIn(a);

    await request(a).post('/logout').set('Cookie', cookie).expect(200, { user: null });
    const me = await request(a).get('/me').set('Cookie', cookie).expect(200);

    expect(me.body).toMatchObject({ authenticated: false, user: null });
  });

  it('drops a stored user the deserializer no longer accepts', async () => {
    const { app: a, store } = app();
    const { cookie, sid } = await loggedIn(a);
    deserialize = () => false;

    const me = await request(a).get('/me').set('Cookie', cookie).expect(200);

    expect(me.body).toMatchObject({ authenticated: false, user: null });
    const stored = await new Promise((resolve) => {
      store.get(sid, (_e, s) => {
        resolve(s);
      });
    });
    expect((stored as { passport?: { user?: unknown } }).passport?.user).toBeUndefined();
  });

  it('passes a deserializer error on', async () => {
    const { app: a } = app();
    const { cookie } = await loggedIn(a);
    deserialize = () => {
      throw new Error('users table on fire');
    };

    await request(a).get('/me').set('Cookie', cookie).expect(500, { error: 'users table on fire' });
  });

  describe('endSession', () => {
    /** The ids a store was asked to destroy. */
    const destroying = (store: MemoryStore) => {
      const ids: string[] = [];
      const destroy = store.destroy.bind(store);
      store.destroy = (sid, cb) => {
        ids.push(sid);
        destroy(sid, cb);
      };
      return ids;
    };

    it('destroys the stored session', async () => {
      const { app: a, store } = app();
      const { cookie, sid } = await loggedIn(a);
      const ids = destroying(store);
      await request(a).post('/end').set('Cookie', cookie).expect(204);
      expect(ids).toEqual([sid]);
    });

    it('destroys the session a signed cookie names even where this store does not have it', async () => {
      const { app: a, store } = app();
      const { cookie, sid } = await loggedIn(a);
      // Another replica's store: it never saw the session (a partition, a copy on its way).
      const { app: elsewhere, store: other } = app();
      const ids = destroying(other);
      await request(elsewhere).post('/end').set('Cookie', cookie).expect(204);
      expect(ids).toEqual([sid]);
      expect(Object.keys(await allOf(store))).toContain(sid); // the first store is untouched here
    });

    it('destroys nothing for a request without a session cookie, and stores nothing', async () => {
      const { app: a, store } = app();
      const ids = destroying(store);
      const res = await request(a).post('/end').expect(204);
      expect(ids).toEqual([]);
      expect(await allOf(store)).toEqual({});
      expect([res.headers['set-cookie']].flat().join(';')).not.toMatch(/=s%3A/); // no new session id
    });
  });
});

const allOf = (store: MemoryStore) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    store.all((err, all) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(all ?? {});
    });
  });
