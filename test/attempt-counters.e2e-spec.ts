/**
 * The login-attempt counters of the postgres and memcached backends against real servers: the
 * contract the login throttle relies on (src/auth/login-throttle.ts), the same for both.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import memjs from 'memjs';
import { join } from 'node:path';
import { freePort } from '../cluster/index.js';
import { startMemcached } from '../cluster/services/memcached.js';
import type { RunningServer } from '../cluster/services/service.js';
import { defined } from '../src/common/defined.js';
import { Deadline, StoreTimeoutError } from '../src/session/backends/deadline.js';
import { MemcachedAttemptCounter } from '../src/session/backends/memcached-store.js';
import { PostgresAttemptCounter } from '../src/session/backends/postgres-attempts.js';
import { SessionSql } from '../src/session/backends/postgres-client.js';
import type { AttemptCounter } from '../src/session/session.types.js';
import { startBackends, type Backends } from './support/backends.js';
import { sleep } from './support/eventually.js';

const deadline = new Deadline(2000, (ms) => new StoreTimeoutError(`no answer in ${ms} ms`));
const WINDOW_MS = 3000;

let backends: Backends;
let memcached: RunningServer;
const counters: Record<string, AttemptCounter> = {};
/** What beforeAll got started, closed last-started first: a failed start leaves a part to close. */
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  backends = await startBackends('scaled-login-attempts');
  closers.push(() => backends.stop());
  memcached = await startMemcached({
    dir: join(backends.dir, 'memcached'),
    port: await freePort(),
  });
  closers.push(() => memcached.stop());
  const sql = SessionSql.connect(backends.postgres.url, 2, deadline, 2000);
  closers.push(() => sql.end());
  counters.postgres = new PostgresAttemptCounter(sql);
  const client = memjs.Client.create(`${memcached.host}:${memcached.port}`, {
    logger: { log: () => undefined },
  });
  closers.push(async () => {
    client.close();
  });
  counters.memcached = new MemcachedAttemptCounter(client, deadline);
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
}, 60_000);

let n = 0;
/** A key of its own per test, with what a username or an address may hold. */
const freshKey = () => `user:Ünïcode name with spaces\n${n++}:${'x'.repeat(300)}`;

describe.each(['postgres', 'memcached'])('%s attempt counter', (name) => {
  const counter = () => defined(counters[name], `the ${name} counter`);

  it('counts hits in one window, for any key', async () => {
    const key = freshKey();
    expect(await counter().peek(key)).toBe(0);
    expect(await counter().hit(key, WINDOW_MS)).toBe(1);
    expect(await counter().hit(key, WINDOW_MS)).toBe(2);
    expect(await counter().hit(key, WINDOW_MS)).toBe(3);
    expect(await counter().peek(key)).toBe(3);
    expect(await counter().peek(freshKey())).toBe(0);
  });

  it('counts concurrent hits exactly (atomic)', async () => {
    const key = freshKey();
    const counts = await Promise.all(
      Array.from({ length: 20 }, () => counter().hit(key, WINDOW_MS)),
    );
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('release takes one back, never below 0, and creates no counter; reset ends the window', async () => {
    const key = freshKey();
    await counter().hit(key, WINDOW_MS);
    await counter().hit(key, WINDOW_MS);
    await counter().release(key);
    expect(await counter().peek(key)).toBe(1);
    await counter().release(key);
    await counter().release(key);
    expect(await counter().peek(key)).toBe(0);
    const untouched = freshKey();
    await counter().release(untouched);
    expect(await counter().hit(untouched, WINDOW_MS)).toBe(1);
    await counter().reset(untouched);
    expect(await counter().peek(untouched)).toBe(0);
  });

  it('starts a fresh window once the window has passed (also after a release of no counter)', async () => {
    const key = freshKey();
    // Had this created a counter, it would have no expiry: the window below would never end.
    await counter().release(key);
    await counter().hit(key, WINDOW_MS);
    await counter().hit(key, WINDOW_MS);
    // Memcached expires in whole seconds: wait past the window with a second to spare.
    await sleep(WINDOW_MS + 1500);
    expect(await counter().peek(key)).toBe(0);
    expect(await counter().hit(key, WINDOW_MS)).toBe(1);
  }, 20_000);
});
