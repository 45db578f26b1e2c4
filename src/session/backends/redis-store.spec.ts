// Unit scope only: nothing here talks to a Redis server. Talking to a real Redis (connect-redis
// round trips, the registry, the shared attempt counter, outages and recovery) is the job of the
// e2e suite (test/), which starts one.
import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { Cookie, type SessionData } from 'express-session';
import type { Request } from 'express';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  TimeoutError,
} from 'redis';
import { publicSessionId, type Principal, type SessionLifetime } from '../session.types.js';
import { Deadline } from './deadline.js';
import { redisBackend } from './redis.backend.js';
import { NotReplicatedError, RedisAttemptCounter, RedisSessionStore } from './redis-store.js';
import { IndexedSessionRegistry } from './store-base.js';
import type { SessionIndex } from './session-index.js';
import { defined } from '../../common/defined.js';

const IDLE = 60_000;
const ABSOLUTE = 600_000;
const options: SessionLifetime & { timeoutMs: number; onError: () => void } = {
  idleTimeoutMs: IDLE,
  absoluteTimeoutMs: ABSOLUTE,
  timeoutMs: 100,
  onError: () => undefined,
};
const alice: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

type Command = [name: string, ...args: unknown[]];
type FakeClient = ConstructorParameters<typeof RedisSessionStore>[0];

/**
 * Records the commands the store sends, for the few it uses. `get` answers from `values`;
 * `failWith` makes every command reject, as node-redis does while Redis is down.
 */
function fakeRedis(values: Record<string, string> = {}, failWith?: Error) {
  const sent: Command[] = [];
  const command =
    (name: string) =>
    async (...args: unknown[]) => {
      if (failWith) throw failWith;
      sent.push([name, ...args]);
      if (name === 'get') return values[args[0] as string] ?? null;
      if (name === 'del') return (args[0] as string) in values ? 1 : 0;
      return 'OK';
    };
  const client = {
    get: command('get'),
    set: command('set'),
    del: command('del'),
    eval: command('eval'),
  };
  return { client: client as unknown as FakeClient, sent };
}

/** Records what the store asks of the Postgres index; `failWith` makes every call reject. */
function fakeIndex(failWith?: Error) {
  const calls: [string, unknown][] = [];
  const method = (name: string) => async (arg: unknown) => {
    if (failWith) throw failWith;
    calls.push([name, arg]);
  };
  const index = { add: method('add'), remove: method('remove') };
  return { index: index as unknown as SessionIndex, calls };
}

function session(user: Principal | undefined, createdAt: number): SessionData {
  return {
    cookie: new Cookie(),
    ...(user ? { passport: { user } } : {}),
    meta: { createdAt, lastSeenAt: createdAt, ip: '10.0.0.1', userAgent: 'jest', replica: 'app-1' },
  };
}

const KEY = `sess:${publicSessionId('sid-1')}`;
const deadline = new Deadline(options.timeoutMs);
const storeOver = (client: FakeClient, index = fakeIndex().index) =>
  new RedisSessionStore(client, index, deadline, options, options.onError);

describe('redisBackend (the record)', () => {
  it('needs one Redis server, and sees the whole cluster', () => {
    expect(redisBackend.name).toBe('redis');
    expect(redisBackend.services).toEqual(['redis']);
    expect(redisBackend.scope).toEqual({ sessionList: 'cluster', loginLimit: 'cluster' });
  });

  it.each([[{}], [{ REDIS_URL: '' }], [{ REDIS_URL: 'http://127.0.0.1:6379' }]])(
    'refuses the config %p',
    (env: Record<string, string>) => {
      expect(redisBackend.config.safeParse(env).success).toBe(false);
    },
  );

  it('takes redis:// and rediss:// URLs', () => {
    for (const REDIS_URL of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2'])
      expect(redisBackend.config.parse({ REDIS_URL })).toEqual({ REDIS_URL });
  });

  // Typed as isOutage() takes them: anything thrown.
  it.each<[string, unknown]>([
    ['ClientOfflineError (command sent while Redis is down)', new ClientOfflineError()],
    ['ClientClosedError (command after the client closed)', new ClientClosedError()],
    ['ConnectionTimeoutError', new ConnectionTimeoutError()],
    ['SocketClosedUnexpectedlyError', new SocketClosedUnexpectedlyError()],
    ['TimeoutError (a command past its deadline)', new TimeoutError()],
    // A failover under way (Sentinel, Cluster): the request gets a 503, never a 500.
    [
      'READONLY (a demoted primary)',
      new ErrorReply("READONLY You can't write against a read only replica."),
    ],
    ['CLUSTERDOWN (a slot without a master)', new ErrorReply('CLUSTERDOWN The cluster is down')],
    [
      'LOADING (a server replaying its data)',
      new ErrorReply('LOADING Redis is loading the dataset in memory'),
    ],
    ['no primary known to the Sentinels', new Error('None of the sentinels are available')],
    ['a durable write no replica acknowledged', new NotReplicatedError(1)],
  ])('classifies node-redis %s as an outage', (_, err) => {
    expect(redisBackend.isOutage(err)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['a plain Error', new Error('boom')],
    [
      'an error reply that is a bug, not an outage',
      new ErrorReply('WRONGTYPE Operation against a key'),
    ],
    ['a DOMException merely named TimeoutError', new DOMException('timed out', 'TimeoutError')],
    [
      'a pg connection refusal (the database, not Redis)',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ],
  ])('does not claim %s', (_, err) => {
    expect(redisBackend.isOutage(err)).toBe(false);
  });
});

describe('RedisSessionStore (fake client)', () => {
  it('indexes a new session first, then writes it under its public id with a millisecond TTL', async () => {
    const now = Date.now();
    const { client, sent } = fakeRedis();
    const { index, calls } = fakeIndex();
    const store = storeOver(client, index);
    const sess = session(alice, now - 1000);

    await store.save('sid-1', sess);

    expect(calls).toEqual([
      [
        'add',
        {
          id: publicSessionId('sid-1'),
          userId: alice.id,
          createdAt: now - 1000,
          expiresAt: now - 1000 + ABSOLUTE,
          ip: '10.0.0.1',
          device: 'jest',
          replica: 'app-1',
        },
      ],
    ]);
    expect(sent).toHaveLength(1);
    const [name, key, value, opts] = defined(sent[0], 'a command');
    expect([name, key, opts]).toEqual(['set', KEY, { expiration: { type: 'PX', value: IDLE } }]);
    // The session id itself is nowhere in Redis; the value holds what a request reads.
    expect(JSON.stringify(sent)).not.toContain('sid-1');
    const stored = store.codec.decode(value as string);
    expect(stored.passport).toEqual(sess.passport);
    const seconds = Math.floor((now - 1000) / 1000) * 1000;
    expect(stored.meta).toEqual({ createdAt: seconds, lastSeenAt: seconds });
  });

  it('writes nothing more when the new session is saved again unchanged (as after a login)', async () => {
    const { client, sent } = fakeRedis();
    const { index, calls } = fakeIndex();
    const store = storeOver(client, index);
    const sess = session(alice, Date.now());

    await store.save('sid-1', sess);
    await store.save('sid-1', sess);

    expect(calls).toHaveLength(1);
    expect(sent.map(([name]) => name)).toEqual(['set']);
  });

  it('caps the TTL by what is left of the absolute lifetime', async () => {
    const { client, sent } = fakeRedis();
    const store = storeOver(client);

    await store.save('sid-1', session(alice, Date.now() - ABSOLUTE + 5000));

    const ttl = (defined(sent[0], 'a command')[3] as { expiration: { value: number } }).expiration
      .value;
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('does not index a session without a user', async () => {
    const { client, sent } = fakeRedis();
    const { index, calls } = fakeIndex();

    await storeOver(client, index).save('anon', session(undefined, Date.now()));

    expect(calls).toEqual([]);
    expect(sent.map(([name]) => name)).toEqual(['set']);
  });

  it('destroys instead of writing a session whose absolute lifetime is over', async () => {
    const old = session(alice, Date.now() - ABSOLUTE - 1);
    const { client, sent } = fakeRedis({ [KEY]: '{}' });
    const { index, calls } = fakeIndex();

    await storeOver(client, index).save('sid-1', old);

    expect(sent).toEqual([['del', KEY]]);
    expect(calls).toEqual([['remove', [publicSessionId('sid-1')]]]);
  });

  it('destroy() ends the session in Redis even when its index row cannot be removed', async () => {
    const { client, sent } = fakeRedis({ [KEY]: '{}' });
    const onError = jest.fn();
    const index = fakeIndex(new Error('pg down')).index;
    const store = new RedisSessionStore(client, index, deadline, options, onError);

    const err = await new Promise((resolve) => {
      store.destroy('sid-1', resolve);
    });

    expect(sent).toEqual([['del', KEY]]);
    expect(err).toBeUndefined();
    expect(onError).toHaveBeenCalledWith(
      expect.stringContaining('session index'),
      expect.any(Error),
    );
  });

  it('saves a loaded session as the changes it made, in stored names, compared with what was read', async () => {
    const now = Date.now();
    const { client, sent } = fakeRedis();
    const store = storeOver(client);
    const raw = store.codec.encode(session(alice, now - 1000));
    const read = fakeRedis({ [KEY]: raw });
    const reader = storeOver(read.client);
    const loaded = await new Promise<SessionData>((resolve, reject) => {
      reader.get('sid-1', (err, sess) => {
        if (err || !sess) reject(err);
        else resolve(sess);
      });
    });
    const req = { sessionID: 'sid-1' } as unknown as Request;
    const live = store.createSession(req, loaded);

    defined(live.passport?.user, 'the logged-in user').displayName = 'Alice L.';
    await store.save('sid-1', live);

    expect(sent).toHaveLength(1);
    const [name, script, call] = defined(sent[0], 'a command');
    expect(name).toBe('eval');
    const { keys, arguments: args } = call as { keys: string[]; arguments: string[] };
    expect(typeof script).toBe('string');
    expect(keys).toEqual([KEY]);
    expect(JSON.parse(defined(args[0], 'the patch'))).toEqual([{ path: ['d'], value: 'Alice L.' }]);
  });

  it('hands a Redis failure to the callback (express-session turns it into a 503); save() rejects with it', async () => {
    const offline = new Error('The client is offline');
    const { client } = fakeRedis({}, offline);
    const store = storeOver(client);

    const err = await new Promise((resolve) => {
      store.set('sid-1', session(alice, Date.now()), resolve);
    });

    expect(err).toBe(offline);
    await expect(store.save('sid-1', session(alice, Date.now()))).rejects.toBe(offline);
  });
});

describe('IndexedSessionRegistry over Redis (fake client and index)', () => {
  const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
  const row = (id: string) => ({
    id,
    userId: alice.id,
    createdAt: new Date(T0),
    expiresAt: new Date(T0 + ABSOLUTE),
    ip: '10.0.0.9',
    device: 'Firefox 140 on Linux',
    replica: 'app-3',
  });

  function registry(values: Record<string, string>, rows = [row('live'), row('idle')]) {
    const removed: string[][] = [];
    const owned = new Set(rows.map((r) => r.id));
    const index = {
      list: async () => rows,
      owns: async (_user: string, id: string) => owned.has(id),
      idsExcept: async (_user: string, keep: string | null) =>
        rows.map((r) => r.id).filter((id) => id !== keep),
      remove: async (ids: string[]) => void removed.push(ids),
    } as unknown as SessionIndex;
    const { client, sent } = fakeRedis(values);
    const store = storeOver(client, index);
    return {
      registry: new IndexedSessionRegistry(index, store),
      removed,
      sent,
      store,
    };
  }

  it('lists what the index has and Redis still holds, and drops the rows of sessions that idled out', async () => {
    const { codec } = storeOver(fakeRedis().client);
    const value = codec.encode({
      ...session(alice, T0),
      meta: { ...defined(session(alice, T0).meta, "the session's meta"), lastSeenAt: T0 + 60_000 },
    });
    const { registry: r, removed } = registry({ 'sess:live': value });

    const list = await r.list(alice.id);

    expect(list).toEqual([
      {
        id: 'live',
        userId: alice.id,
        meta: {
          createdAt: T0,
          lastSeenAt: T0 + 60_000,
          ip: '10.0.0.9',
          userAgent: 'Firefox 140 on Linux',
          replica: 'app-3',
        },
      },
    ]);
    expect(removed).toEqual([['idle']]);
  });

  it("revokes only the user's own sessions, and says whether one was still alive", async () => {
    const { registry: r, sent } = registry({ 'sess:live': '{}' });

    await expect(r.revoke(alice.id, 'someone-elses')).resolves.toBe(false);
    expect(sent).toEqual([]); // not even a DEL for a session the index does not give this user
    await expect(r.revoke(alice.id, 'live')).resolves.toBe(true);
    await expect(r.revoke(alice.id, 'idle')).resolves.toBe(false); // listed, but already gone
  });

  it('revokeAllExcept ends every other session of the user, one single-key DEL each', async () => {
    const rows = [row('live'), row('idle'), row('phone')];
    const {
      registry: r,
      sent,
      removed,
    } = registry({ 'sess:idle': '{}', 'sess:phone': '{}' }, rows);

    await expect(r.revokeAllExcept(alice.id, 'live')).resolves.toBe(2);
    // Not one DEL of two keys: under Redis Cluster they may be in different slots (CROSSSLOT).
    expect(sent).toEqual([
      ['del', 'sess:idle'],
      ['del', 'sess:phone'],
    ]);
    expect(removed).toEqual([['idle', 'phone']]);
  });
});

describe('durable logins (fake clients)', () => {
  /** A store whose durable client records its commands and whose WAIT answers `acks`. */
  function durableStore(acks: number) {
    const main = fakeRedis();
    const durable = fakeRedis();
    const waited: string[] = [];
    const wait = async (key: string) => (waited.push(key), acks);
    const store = new RedisSessionStore(
      main.client,
      fakeIndex().index,
      deadline,
      options,
      options.onError,
      { redis: durable.client, durability: { replicas: 1, wait } },
    );
    return { store, main: main.sent, durable: durable.sent, waited };
  }

  it('a new session is written on the durable connection, then waits for a replica to have it', async () => {
    const { store, main, durable, waited } = durableStore(1);
    await store.save('sid-1', session(alice, Date.now()));
    expect(main).toEqual([]);
    expect(durable.map(([name, key]) => [name, key])).toEqual([['set', KEY]]);
    expect(waited).toEqual([KEY]);
  });

  it('a login no replica acknowledged is not reported done: it rejects as an outage (503)', async () => {
    const { store } = durableStore(0);
    const saving = store.save('sid-1', session(alice, Date.now()));
    await expect(saving).rejects.toBeInstanceOf(NotReplicatedError);
    await expect(saving.catch((err: unknown) => redisBackend.isOutage(err))).resolves.toBe(true);
  });

  it('a logout waits for a replica too: a lost DEL would bring the session back', async () => {
    const { store, durable, waited } = durableStore(1);
    await store.remove([publicSessionId('sid-1')]);
    expect(durable).toEqual([['del', KEY]]);
    expect(waited).toEqual([KEY]);
  });

  it('reads stay on the main connection (WAIT blocks the durable one while it waits)', async () => {
    const { store, main, durable } = durableStore(1);
    await store.read('sid-1');
    expect(main).toEqual([['get', KEY]]);
    expect(durable).toEqual([]);
  });
});

describe('one key per command (Redis Cluster: no CROSSSLOT error)', () => {
  /** The keys a recorded command names: the first argument, or an EVAL's `keys`. */
  const keysOf = ([name, ...args]: Command): unknown[] =>
    name === 'eval' ? (args[1] as { keys: unknown[] }).keys : [args[0]];

  it('every command the store, the registry and the login limit send names exactly one key', async () => {
    const id = fc.string({ minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(id, { minLength: 1, maxLength: 5 }),
        id,
        async (sids, who) => {
          const { client, sent } = fakeRedis();
          const index = fakeIndex().index;
          const store = storeOver(client, index);
          const counter = new RedisAttemptCounter(client, deadline);
          for (const sid of sids) await store.save(sid, session(alice, Date.now()));
          await store.read(defined(sids[0], 'a session id'));
          await store.remove(sids.map(publicSessionId));
          await counter.hit(who, 60_000);
          await counter.peek(who);
          await counter.release(who);
          await counter.reset(who);
          expect(sent.length).toBeGreaterThan(0);
          for (const command of sent) {
            expect(keysOf(command)).toHaveLength(1);
            expect(typeof keysOf(command)[0]).toBe('string');
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('RedisAttemptCounter past its deadline', () => {
  it('a hit that timed out (it may still reach Redis) is taken back behind it: a 503 never counts', async () => {
    const sent: string[] = [];
    const client = {
      // The INCR hangs, as it does while Sentinel's client looks for a new primary.
      eval: (script: string) => {
        sent.push(script.includes("'INCR'") ? 'incr' : 'decr');
        return script.includes("'INCR'") ? new Promise(() => undefined) : Promise.resolve(0);
      },
    } as unknown as FakeClient;
    const counter = new RedisAttemptCounter(client, deadline);

    await expect(counter.hit('user:alice', 60_000)).rejects.toBeInstanceOf(TimeoutError);
    expect(sent).toEqual(['incr', 'decr']);
  });
});
