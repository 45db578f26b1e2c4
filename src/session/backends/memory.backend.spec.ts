import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Cookie, type SessionData } from 'express-session';
import type { Principal, SessionMeta } from '../session.types.js';
import { publicSessionId, sessionTtlMs } from '../session.types.js';
import type { BackendDeps, SessionBackend } from './backend.js';
import { memoryBackend, MemorySessionStore } from './memory.backend.js';
import { defined } from '../../common/defined.js';

const IDLE = 60_000;
const ABSOLUTE = 10 * 60_000;
const options: BackendDeps<Record<string, never>> = {
  config: {},
  idleTimeoutMs: IDLE,
  absoluteTimeoutMs: ABSOLUTE,
  timeoutMs: 100,
  secrets: ['s'.repeat(32)],
  replica: 'app-1',
  onError: () => undefined,
};

const alice: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };
const bob: Principal = { id: 'user-bob', username: 'bob', displayName: 'Bob' };

/** A controllable clock: the store reads Date.now() for every expiry decision. */
let now = 1_700_000_000_000;
beforeEach(() => {
  now = 1_700_000_000_000;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
});
afterEach(() => {
  jest.restoreAllMocks();
});

function meta(overrides: Partial<SessionMeta> = {}): SessionMeta {
  return {
    createdAt: now,
    lastSeenAt: now,
    ip: '127.0.0.1',
    userAgent: 'jest',
    replica: 'app-1',
    ...overrides,
  };
}

function session(
  user?: Principal,
  m: SessionMeta | undefined = user ? meta() : undefined,
): SessionData {
  return {
    cookie: new Cookie(),
    ...(user ? { passport: { user } } : {}),
    ...(m ? { meta: m } : {}),
  };
}

// The store speaks express-session's callback API; these turn it into promises.
const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
const get = (store: MemorySessionStore, sid: string) =>
  new Promise<SessionData | null | undefined>((resolve, reject) => {
    store.get(sid, (err, value) => {
      if (err) reject(asError(err));
      else resolve(value);
    });
  });
const set = (store: MemorySessionStore, sid: string, sess: SessionData) =>
  new Promise<void>((resolve, reject) => {
    store.set(sid, sess, (err) => {
      if (err) reject(asError(err));
      else resolve();
    });
  });
const destroy = (store: MemorySessionStore, sid: string) =>
  new Promise<void>((resolve, reject) => {
    store.destroy(sid, (err) => {
      if (err) reject(asError(err));
      else resolve();
    });
  });

/** What a test expects a session to hold. */
const userOf = (s: SessionData | null | undefined) =>
  defined(s?.passport?.user, "the session's user");
const metaOf = (s: SessionData | null | undefined) => defined(s?.meta, "the session's meta");

describe('MemorySessionStore', () => {
  let store: MemorySessionStore;
  beforeEach(() => {
    store = new MemorySessionStore(options);
  });
  afterEach(() => {
    store.close();
  });

  it('returns what was stored', async () => {
    const sess = session(alice);
    await set(store, 'sid-1', sess);

    expect(await get(store, 'sid-1')).toEqual(JSON.parse(JSON.stringify(sess)));
    expect(store.size).toBe(1);
  });

  it('returns a copy: mutating the result (or the saved object) does not change the store', async () => {
    const sess = session(alice);
    await set(store, 'sid-1', sess);

    const first = await get(store, 'sid-1');
    userOf(first).displayName = 'Mallory';
    metaOf(sess).ip = '10.0.0.66';

    const second = await get(store, 'sid-1');
    expect(userOf(second).displayName).toBe('Alice');
    expect(metaOf(second).ip).toBe('127.0.0.1');
    expect(second).not.toBe(first);
  });

  it('keeps a session under its public id: the id from the cookie is nowhere in the store', async () => {
    await set(store, 'sid-secret', session(alice));

    expect([...store['sessions'].keys()]).toEqual([publicSessionId('sid-secret')]);
    expect(JSON.stringify([...store['sessions'].values()])).not.toContain('sid-secret');
    expect(store.sessionsOf(alice.id).map((s) => s.id)).toEqual([publicSessionId('sid-secret')]);
  });

  it('returns null for an unknown sid', async () => {
    expect(await get(store, 'nope')).toBeNull();
  });

  it('forgets a destroyed session', async () => {
    await set(store, 'sid-1', session(alice));
    await destroy(store, 'sid-1');

    expect(await get(store, 'sid-1')).toBeNull();
    expect(store.sessionsOf(alice.id)).toEqual([]);
  });

  it('does not return a session past its idle timeout', async () => {
    await set(store, 'sid-1', session(alice));

    now += IDLE - 1;
    expect(await get(store, 'sid-1')).not.toBeNull();
    now += 1;
    expect(await get(store, 'sid-1')).toBeNull();
    // The read dropped it too.
    expect(store.size).toBe(0);
  });

  it('saving again slides the idle timeout', async () => {
    await set(store, 'sid-1', session(alice));
    now += IDLE - 1000;
    await set(store, 'sid-1', session(alice, meta({ createdAt: now - (IDLE - 1000) })));
    now += IDLE - 1000;

    expect(await get(store, 'sid-1')).not.toBeNull();
  });

  it('sweep() removes expired sessions, keeps live ones, and says how many went', async () => {
    await set(store, 'old-1', session(alice));
    await set(store, 'old-2', session());
    now += IDLE / 2;
    await set(store, 'fresh', session(bob));
    now += IDLE / 2; // old-* are exactly at their expiry, fresh has half its time left

    expect(store.sweep()).toBe(2);
    expect(store.size).toBe(1);
    expect(store.sessionsOf(alice.id)).toEqual([]);
    expect(store.sessionsOf(bob.id).map((s) => s.id)).toEqual([publicSessionId('fresh')]);
  });

  it('sweeps on its own timer, and close() stops the timer', async () => {
    jest.restoreAllMocks(); // hand the clock to the fake timers
    jest.useFakeTimers();
    now = Date.now(); // the fake clock's time, so the session's meta is not from the past
    try {
      const timed = new MemorySessionStore({ ...options, idleTimeoutMs: 1000 }, 5000);
      await set(timed, 'sid-1', session(alice));
      expect(timed.size).toBe(1);

      jest.advanceTimersByTime(5000);
      expect(timed.size).toBe(0);

      timed.close();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not store a session whose absolute lifetime is over (and drops the old copy)', async () => {
    await set(store, 'sid-1', session(alice));
    now += ABSOLUTE;
    await set(store, 'sid-1', session(alice, meta({ createdAt: now - ABSOLUTE })));

    expect(store.size).toBe(0);
    expect(await get(store, 'sid-1')).toBeNull();
  });

  it('caps the lifetime of a session by its absolute timeout, however recently it was saved', async () => {
    // Created 9.5 minutes ago: 30 s of absolute lifetime left, less than the 60 s idle timeout.
    const createdAt = now - (ABSOLUTE - 30_000);
    await set(store, 'sid-1', session(alice, meta({ createdAt })));

    now += 29_999;
    expect(await get(store, 'sid-1')).not.toBeNull();
    now += 1;
    expect(await get(store, 'sid-1')).toBeNull();
  });

  it('length() and clear() see every session', async () => {
    await set(store, 'a', session(alice));
    await set(store, 'b', session());
    const length = await new Promise<number | undefined>((resolve) => {
      store.length((_, n) => {
        resolve(n);
      });
    });
    expect(length).toBe(2);

    await new Promise<void>((resolve) => {
      store.clear(() => {
        resolve();
      });
    });
    expect(store.size).toBe(0);
    expect(store.sessionsOf(alice.id)).toEqual([]);
  });

  it('moves a session to its new owner in the per-user index when it is saved with another user', async () => {
    await set(store, 'sid-1', session(alice));
    await set(store, 'sid-1', session(bob));

    expect(store.sessionsOf(alice.id)).toEqual([]);
    expect(store.sessionsOf(bob.id).map((s) => s.id)).toEqual([publicSessionId('sid-1')]);
  });
});

describe('sessionTtlMs', () => {
  it('is the idle timeout for a new session', () => {
    expect(sessionTtlMs({ meta: meta() }, options, now)).toBe(IDLE);
    expect(sessionTtlMs({}, options, now)).toBe(IDLE);
  });

  it('is capped by what is left of the absolute lifetime', () => {
    expect(sessionTtlMs({ meta: meta({ createdAt: now - ABSOLUTE + 5000 }) }, options, now)).toBe(
      5000,
    );
    expect(
      sessionTtlMs({ meta: meta({ createdAt: now - ABSOLUTE - 1 }) }, options, now),
    ).toBeLessThanOrEqual(0);
  });
});

describe('memoryBackend', () => {
  let backend: SessionBackend;
  let store: MemorySessionStore;
  beforeEach(async () => {
    backend = await memoryBackend.create(options);
    store = backend.store as MemorySessionStore;
  });
  afterEach(async () => {
    await backend.close();
  });

  it('is named "memory", is ready at once, needs no server, and says it only sees this replica', async () => {
    expect(memoryBackend.name).toBe('memory');
    expect(memoryBackend.services).toEqual([]);
    expect(memoryBackend.scope).toEqual({ sessionList: 'replica', loginLimit: 'replica' });
    expect(backend.store).toBeInstanceOf(MemorySessionStore);
    await expect(backend.ready()).resolves.toBeUndefined();
    expect(memoryBackend.isOutage(new Error('anything'))).toBe(false);
  });

  describe('registry', () => {
    beforeEach(async () => {
      await set(store, 'alice-laptop', session(alice, meta({ userAgent: 'laptop' })));
      await set(store, 'alice-phone', session(alice, meta({ userAgent: 'phone' })));
      await set(store, 'bob-desk', session(bob));
      await set(store, 'anonymous', session());
    });

    it("lists only that user's sessions, with their meta", async () => {
      const list = await backend.registry.list(alice.id);

      expect(list.map((s) => s.id).sort()).toEqual(
        ['alice-laptop', 'alice-phone'].map(publicSessionId).sort(),
      );
      expect(JSON.stringify(list)).not.toContain('alice-laptop'); // ids only, never the sid
      expect(list.every((s) => s.userId === alice.id)).toBe(true);
      expect(list.map((s) => s.meta?.userAgent).sort()).toEqual(['laptop', 'phone']);
    });

    it('does not list expired sessions', async () => {
      now += IDLE;
      expect(await backend.registry.list(alice.id)).toEqual([]);
    });

    it("revokes one of the user's own sessions", async () => {
      await expect(backend.registry.revoke(alice.id, publicSessionId('alice-phone'))).resolves.toBe(
        true,
      );

      expect(await get(store, 'alice-phone')).toBeNull();
      expect(await get(store, 'alice-laptop')).not.toBeNull();
    });

    it("refuses to revoke another user's session, and leaves it alone", async () => {
      await expect(backend.registry.revoke(alice.id, publicSessionId('bob-desk'))).resolves.toBe(
        false,
      );
      await expect(backend.registry.revoke(alice.id, publicSessionId('anonymous'))).resolves.toBe(
        false,
      );
      await expect(backend.registry.revoke(alice.id, publicSessionId('no-such-sid'))).resolves.toBe(
        false,
      );

      expect(await get(store, 'bob-desk')).not.toBeNull();
      expect(await get(store, 'anonymous')).not.toBeNull();
    });

    it("revokeAllExcept ends the user's other sessions only", async () => {
      await expect(
        backend.registry.revokeAllExcept(alice.id, publicSessionId('alice-laptop')),
      ).resolves.toBe(1);

      expect(await get(store, 'alice-laptop')).not.toBeNull();
      expect(await get(store, 'alice-phone')).toBeNull();
      expect(await get(store, 'bob-desk')).not.toBeNull();
      expect(await get(store, 'anonymous')).not.toBeNull();
    });

    it('revokeAllExcept(null) ends all of them', async () => {
      await expect(backend.registry.revokeAllExcept(alice.id, null)).resolves.toBe(2);

      expect(await backend.registry.list(alice.id)).toEqual([]);
      expect(await backend.registry.list(bob.id)).toHaveLength(1);
    });

    it("revokeAllExcept with another user's session as the keeper does not spare or touch it", async () => {
      await expect(
        backend.registry.revokeAllExcept(alice.id, publicSessionId('bob-desk')),
      ).resolves.toBe(2);

      expect(await get(store, 'bob-desk')).not.toBeNull();
    });
  });

  describe('attempt counter', () => {
    const WINDOW = 1000;

    it('counts hits per key within the window', async () => {
      expect(await backend.attempts.hit('user:alice', WINDOW)).toBe(1);
      expect(await backend.attempts.hit('user:alice', WINDOW)).toBe(2);
      expect(await backend.attempts.hit('user:bob', WINDOW)).toBe(1);

      expect(await backend.attempts.peek('user:alice')).toBe(2);
      expect(await backend.attempts.peek('user:bob')).toBe(1);
      expect(await backend.attempts.peek('user:carol')).toBe(0);
    });

    it('starts over once the window has passed (fixed window from the first hit)', async () => {
      await backend.attempts.hit('k', WINDOW);
      now += WINDOW - 1;
      expect(await backend.attempts.hit('k', WINDOW)).toBe(2);

      now += 1; // the window opened by the first hit is over
      expect(await backend.attempts.peek('k')).toBe(0);
      expect(await backend.attempts.hit('k', WINDOW)).toBe(1);
    });

    it('reset() clears one key only', async () => {
      await backend.attempts.hit('a', WINDOW);
      await backend.attempts.hit('b', WINDOW);
      await backend.attempts.reset('a');

      expect(await backend.attempts.peek('a')).toBe(0);
      expect(await backend.attempts.peek('b')).toBe(1);
    });
  });
});
