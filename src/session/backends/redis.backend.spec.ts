// Unit scope only: nothing here talks to a Redis server. Talking to a real Redis (connect-redis
// round trips, the registry, the shared attempt counter, outages and recovery) is the job of the
// e2e suite (test/), which starts one.
import { describe, expect, it, jest } from '@jest/globals';
import { Cookie, type SessionData } from 'express-session';
import type { Principal, SessionBackend, SessionBackendOptions } from '../session.types.js';
import { createRedisBackend, RedisSessionStore } from './redis.backend.js';

const IDLE = 60_000;
const ABSOLUTE = 600_000;
const options: SessionBackendOptions = {
  redisUrl: 'redis://127.0.0.1:6379',
  idleTimeoutMs: IDLE,
  absoluteTimeoutMs: ABSOLUTE,
  timeoutMs: 100,
  onError: () => undefined,
};
const alice: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

type Command = [name: string, ...args: unknown[]];

/**
 * Records the commands the store sends, for the few methods it uses. `get` answers from `values`;
 * `failWith` makes every transaction reject, as node-redis does while Redis is down.
 */
function fakeRedis(values: Record<string, string> = {}, failWith?: Error) {
  const sent: Command[][] = [];
  const multi = () => {
    const tx: Command[] = [];
    const chain = {
      set: (...a: unknown[]) => (tx.push(['set', ...a]), chain),
      zAdd: (...a: unknown[]) => (tx.push(['zAdd', ...a]), chain),
      pExpireAt: (...a: unknown[]) => (tx.push(['pExpireAt', ...a]), chain),
      del: (...a: unknown[]) => (tx.push(['del', ...a]), chain),
      zRem: (...a: unknown[]) => (tx.push(['zRem', ...a]), chain),
      exec: async () => {
        if (failWith) throw failWith;
        sent.push(tx);
        return [];
      },
    };
    return chain;
  };
  const client = { multi, get: async (key: string) => values[key] ?? null };
  return { client: client as unknown as ConstructorParameters<typeof RedisSessionStore>[0], sent };
}

function session(user: Principal | undefined, createdAt: number): SessionData {
  return {
    cookie: new Cookie(),
    ...(user ? { passport: { user } } : {}),
    meta: { createdAt, lastSeenAt: createdAt, ip: '10.0.0.1', userAgent: 'jest', replica: 'app-1' },
  };
}

/** The error createRedisBackend threw; if it built a backend instead, it is closed so no client lingers. */
async function refusalOf(opts: SessionBackendOptions): Promise<unknown> {
  let backend: SessionBackend;
  try {
    backend = createRedisBackend(opts);
  } catch (err) {
    return err;
  }
  await backend.close();
  return undefined;
}

describe('createRedisBackend', () => {
  it.each([undefined, ''])(
    'refuses to start when REDIS_URL is %p (and so never tries to connect)',
    async (redisUrl) => {
      const onError = jest.fn();

      const err = await refusalOf({ ...options, redisUrl, onError });

      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('the redis session backend needs REDIS_URL');
      expect(onError).not.toHaveBeenCalled();
    },
  );
});

describe('RedisSessionStore (fake client)', () => {
  it('writes the session with a millisecond TTL and indexes it under its user, scored by its absolute expiry', async () => {
    const now = Date.now();
    const { client, sent } = fakeRedis();
    const store = new RedisSessionStore(client, options);
    const sess = session(alice, now - 1000);

    await store.set('sid-1', sess);

    expect(sent).toHaveLength(1); // one transaction: the session and its index entry change together
    const [tx] = sent;
    const set = tx!.find(([name]) => name === 'set')!;
    expect(set[1]).toBe('sess:sid-1');
    // Stored compactly (no cookie, short names); what it decodes to is what was saved.
    const stored = store.codec.decode(set[2] as string);
    expect(stored.passport).toEqual(sess.passport);
    expect(stored.meta).toEqual(sess.meta);
    expect(set[3]).toEqual({ expiration: { type: 'PX', value: IDLE } });
    expect(tx!.find(([name]) => name === 'zAdd')).toEqual([
      'zAdd',
      'user-sessions:user-alice',
      { score: now - 1000 + ABSOLUTE, value: 'sid-1' },
    ]);
  });

  it('caps the TTL by what is left of the absolute lifetime', async () => {
    const { client, sent } = fakeRedis();
    const store = new RedisSessionStore(client, options);

    await store.set('sid-1', session(alice, Date.now() - ABSOLUTE + 5000));

    const ttl = (sent[0]!.find(([name]) => name === 'set')![3] as { expiration: { value: number } })
      .expiration.value;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('does not index a session without a user', async () => {
    const { client, sent } = fakeRedis();

    await new RedisSessionStore(client, options).set('anon', session(undefined, Date.now()));

    expect(sent[0]!.map(([name]) => name)).toEqual(['set']);
  });

  it('destroys instead of writing a session whose absolute lifetime is over, and unindexes it', async () => {
    const old = session(alice, Date.now() - ABSOLUTE - 1);
    const { client, sent } = fakeRedis({ 'sess:sid-1': JSON.stringify(old) });

    await new RedisSessionStore(client, options).set('sid-1', old);

    expect(sent).toEqual([
      [
        ['del', 'sess:sid-1'],
        ['zRem', 'user-sessions:user-alice', 'sid-1'],
      ],
    ]);
  });

  it("destroy() removes the session and its entry in its owner's index", async () => {
    const { client, sent } = fakeRedis({
      'sess:sid-1': JSON.stringify(session(alice, Date.now())),
    });
    const done = jest.fn();

    await new RedisSessionStore(client, options).destroy('sid-1', done);

    expect(sent).toEqual([
      [
        ['del', 'sess:sid-1'],
        ['zRem', 'user-sessions:user-alice', 'sid-1'],
      ],
    ]);
    expect(done).toHaveBeenCalledWith();
  });

  it('hands a Redis failure to the callback (express-session turns it into a 503), or throws without one', async () => {
    const offline = new Error('The client is offline');
    const { client } = fakeRedis({}, offline);
    const store = new RedisSessionStore(client, options);
    const done = jest.fn();

    await store.set('sid-1', session(alice, Date.now()), done);

    expect(done).toHaveBeenCalledWith(offline);
    await expect(store.set('sid-1', session(alice, Date.now()))).rejects.toBe(offline);
  });
});
