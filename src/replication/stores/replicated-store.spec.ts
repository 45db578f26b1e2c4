import { describe, expect, it } from '@jest/globals';
import type { SessionData } from 'express-session';
import { publicSessionId } from '../../session/session.types.js';
import { ModelNetwork, neverEnds } from '../../../test/model/model-network.js';
import { ReplicatedSessionStore } from './replicated-store.js';
import { SessionReplicator } from '../core/replicated/session-replicator.js';
import { defined } from '../../common/defined.js';

const LIFETIME = { idleTimeoutMs: 60_000, absoluteTimeoutMs: 3_600_000 };

/** Two replicas on the model network: what a store on `a` sends is visible on the wire. */
async function setup() {
  const net = new ModelNetwork(['a', 'b']);
  const make = (name: string) =>
    new SessionReplicator(net.join(name), {
      mode: 'async',
      syncTimeoutMs: 1000,
      transferTimeoutMs: 1000,
      discoveryMs: 0,
      requestTimeoutMs: 1000,
      tombstoneMs: 120_000,
      now: Date.now,
      sleep: neverEnds,
      log: () => undefined,
    });
  const [a, b] = [make('a'), make('b')];
  await Promise.all([a.start(), b.start()]);
  const sent = () => {
    const n = net.inFlight.length;
    while (net.deliver(0));
    return n;
  };
  /** Delivers messages until `work` is done: a logout waits for the peer's acknowledgement. */
  const delivering = async <T>(work: Promise<T>): Promise<T> => {
    // Set in a callback, which the compiler's narrowing does not follow.
    let done = false as boolean;
    const result = work.finally(() => (done = true));
    while (!done) {
      sent();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return result;
  };
  return { store: new ReplicatedSessionStore(a, LIFETIME), a, b, sent, delivering };
}

const get = (store: ReplicatedSessionStore, sid: string) =>
  new Promise<SessionData | null | undefined>((resolve, reject) => {
    store.get(sid, (err, s) => {
      if (err) reject(err instanceof Error ? err : new Error('get failed'));
      else resolve(s);
    });
  });

/** A session the store must have. */
async function stored(store: ReplicatedSessionStore, sid: string): Promise<SessionData> {
  const s = await get(store, sid);
  if (!s) throw new Error(`expected session ${sid} in the store, found nothing`);
  return s;
}

const session = (now: number, extra: object = {}) =>
  ({
    cookie: { path: '/', httpOnly: true, originalMaxAge: 60_000 },
    passport: { user: { id: 'u1', username: 'ada', displayName: 'Ada' } },
    meta: { createdAt: now, lastSeenAt: now, ip: '127.0.0.1', userAgent: 'x', replica: 'a' },
    ...extra,
  }) as unknown as SessionData;

describe('ReplicatedSessionStore', () => {
  it('creates everywhere, sends only changed fields, batches touches, and a late save revives nothing', async () => {
    const { store, b, sent, delivering } = await setup();
    const now = Date.now();
    await store.save('sid-1', session(now));
    expect(sent()).toBe(1);
    const id = publicSessionId('sid-1');
    expect(b.map.has(id, Date.now())).toBe(true);

    // A loaded session, edited: one delta with the passport field alone.
    const loaded = await stored(store, 'sid-1');
    defined(loaded.passport?.user, 'the logged-in user').displayName = 'Ada L.';
    await store.save('sid-1', loaded);
    expect(sent()).toBe(1);
    expect(JSON.parse(defined(b.map.read(id, Date.now()), 'the session on b'))).toMatchObject({
      passport: { user: { displayName: 'Ada L.' } },
    });

    // A touch (last seen) goes out with the next batch, not with the request.
    const touched = await stored(store, 'sid-1');
    defined(touched.meta, "the session's meta").lastSeenAt = now + 5000;
    await store.save('sid-1', touched);
    expect(sent()).toBe(0);

    // Logout, then a request that loaded the session before it saves: nothing comes back.
    const inFlight = await stored(store, 'sid-1');
    await delivering(
      new Promise<void>((resolve) => {
        store.destroy('sid-1', () => {
          resolve();
        });
      }),
    );
    defined(inFlight.passport?.user, 'the logged-in user').displayName = 'late';
    await store.save('sid-1', inFlight);
    expect(await get(store, 'sid-1')).toBeNull();
    sent();
    expect(b.map.has(id, Date.now())).toBe(false);
    expect(b.map.isGone(id)).toBe(true);
  });

  it('destroys a session past its absolute lifetime instead of saving it', async () => {
    const { store, b, delivering } = await setup();
    await delivering(store.save('old', session(Date.now() - LIFETIME.absoluteTimeoutMs - 1)));
    expect(await get(store, 'old')).toBeNull();
    expect(b.map.isGone(publicSessionId('old'))).toBe(true);
  });
});
