/**
 * A read-only look into Redis servers for the benchmark (commands served, memory, sampled
 * sessions), over clients of its own: one server, or several read as one store (the masters of
 * a Redis Cluster).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { defined } from '../../src/common/defined.js';
import { SESSION_KEY_PATTERN } from '../../src/session/backends/redis-store.js';
import type { SessionSample, StoreObserver } from './service.js';

/** Commands per pipeline when the observer writes or removes session copies. */
const BATCH = 2000;
/** The app's idle timeout: copies left behind by an interrupted run expire like real sessions. */
const COPY_TTL_MS = 30 * 60_000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

const observerClient = (url: string) => createClient({ url, disableOfflineQueue: true });
type ObserverClient = ReturnType<typeof observerClient>;

/** Up to `limit` keys matching `pattern`. */
async function scanKeys(client: ObserverClient, pattern: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    keys.push(...batch);
    if (keys.length >= limit) break;
  }
  return keys.slice(0, limit);
}

const memoryUsage = async (client: ObserverClient, key: string) =>
  (await client.memoryUsage(key, { SAMPLES: 0 })) ?? 0;

/**
 * Copies `count` times a stored session that names its user (a UUID in the value), with a new
 * user id in each, so nothing here depends on the session's format. The copies' keys have the
 * app's shape (the session prefix and 22 base64url characters), made from a random prefix and a
 * counter: they can be removed again without keeping 100,000 strings in the observing process
 * (whose heap, and GC pauses, would otherwise grow with the store and slow the load generator).
 */
async function fillWithCopies(client: ObserverClient, count: number): Promise<() => Promise<void>> {
  let template: { value: string; userId: string } | undefined;
  for (const key of await scanKeys(client, SESSION_KEY_PATTERN, 50)) {
    const value = await client.get(key);
    const userId = value && UUID.exec(value)?.[0];
    if (value && userId) {
      template = { value, userId };
      break;
    }
  }
  if (!template) throw new Error('no session in Redis that names its user, to copy');

  const prefix = randomBytes(11).toString('base64url').slice(0, 14);
  const keyOf = (i: number) =>
    SESSION_KEY_PATTERN.replace('*', prefix + i.toString(36).padStart(8, '0'));
  for (let from = 0; from < count; from += BATCH) {
    const pipe = client.multi();
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const value = template.value.replaceAll(template.userId, randomUUID());
      pipe.set(keyOf(i), value, { expiration: { type: 'PX', value: COPY_TTL_MS } });
    }
    await pipe.execAsPipeline();
  }
  return async () => {
    for (let from = 0; from < count; from += BATCH) {
      const keys: string[] = [];
      for (let i = from; i < Math.min(count, from + BATCH); i++) keys.push(keyOf(i));
      await client.unlink(keys);
    }
  };
}

/** One Redis server's observer: it samples and counts sessions. */
type ServerObserver = StoreObserver &
  Required<Pick<StoreObserver, 'sampleSessions' | 'sessionCount'>>;

/** INFO commandstats and used_memory, sampled sessions and copies of them, over a client of its own. */
export async function observeRedis(url: string): Promise<ServerObserver> {
  const client = observerClient(url);
  client.on('error', () => undefined); // a refused connect rejects connect() below
  await client.connect();
  // Redis counts a command once it has run: each INFO reply counts this observer's earlier ones.
  let infoCalls = 0;
  const info = async (section: string) => {
    const text = await client.info(section);
    infoCalls++;
    return text;
  };
  return {
    label: 'Redis',
    async commandCounts() {
      const earlier = infoCalls;
      const text = await info('commandstats');
      const counts = new Map<string, number>();
      for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        counts.set(defined(name, 'a command name'), Number(calls));
      const infos = counts.get('info');
      if (infos !== undefined) counts.set('info', infos - earlier);
      return counts;
    },
    async usedMemory() {
      return Number(/^used_memory:(\d+)/m.exec(await info('memory'))?.[1] ?? NaN);
    },
    async sampleSessions(limit) {
      const keys = await scanKeys(client, SESSION_KEY_PATTERN, limit);
      const [first] = keys;
      if (first === undefined) throw new Error('no session keys in Redis to sample');
      let bytes = 0;
      let valueBytes = 0;
      for (const key of keys) {
        bytes += await memoryUsage(client, key);
        valueBytes += await client.strLen(key);
      }
      return {
        count: keys.length,
        bytes: bytes / keys.length,
        valueBytes: valueBytes / keys.length,
        example: (await client.get(first)) ?? '',
      };
    },
    // DBSIZE, so no key list is built here: every key, i.e. sessions and a few login-attempt counters.
    sessionCount: () => client.dbSize(),
    fill: (count) => fillWithCopies(client, count),
    close: async () => {
      client.destroy();
    },
  };
}

/**
 * Several Redis servers read as one store: the masters of a Redis Cluster, where each holds the
 * sessions of its slots. Commands and memory are summed; sessions are sampled on every server,
 * each in proportion to what it holds. No `fill`: copies would have to go to the right master.
 */
export async function observeRedisServers(urls: string[], label: string): Promise<StoreObserver> {
  const servers = await Promise.all(urls.map(observeRedis));
  const sum = async (read: (o: ServerObserver) => Promise<number>) =>
    (await Promise.all(servers.map(read))).reduce((a, b) => a + b, 0);
  return {
    label,
    async commandCounts() {
      const total = new Map<string, number>();
      for (const counts of await Promise.all(servers.map((o) => o.commandCounts())))
        for (const [name, n] of counts) total.set(name, (total.get(name) ?? 0) + n);
      return total;
    },
    usedMemory: () => sum((o) => o.usedMemory()),
    sessionCount: () => sum((o) => o.sessionCount()),
    async sampleSessions(limit) {
      const per = Math.max(1, Math.ceil(limit / servers.length));
      const samples: SessionSample[] = [];
      for (const o of servers) samples.push(await o.sampleSessions(per).catch(() => EMPTY));
      const count = samples.reduce((a, s) => a + s.count, 0);
      if (count === 0) throw new Error(`no session keys in ${label} to sample`);
      const { example } = defined(
        samples.find((s) => s.count > 0),
        'a sample with sessions',
      );
      const mean = (field: 'bytes' | 'valueBytes') =>
        samples.reduce((a, s) => a + s[field] * s.count, 0) / count;
      return {
        count,
        bytes: mean('bytes'),
        valueBytes: mean('valueBytes'),
        example,
      };
    },
    close: async () => {
      await Promise.all(servers.map((o) => o.close()));
    },
  };
}

const EMPTY: SessionSample = { count: 0, bytes: 0, valueBytes: 0, example: '' };
