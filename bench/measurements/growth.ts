/**
 * Measurement 7: does a read get slower as the store fills up? whoami p50 with `small` sessions
 * in Redis, then with `large`, alternating (timing here is noisy: each size is measured several
 * times and the medians compared). The extra sessions are written straight into Redis with a
 * pipeline: a real session of the app, copied with new session and user ids, under the same
 * `sess:<id>` keys, so Redis holds what that many logins would leave (the app's per-user index is
 * in Postgres, which a read never touches).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { runLoad, summarize } from '../load.js';
import { sampleKeys, type RedisClient } from '../probes.js';
import type { GrowthResult } from '../results.js';
import type { Subject } from '../subject.js';
import { median } from './throughput.js';

const BATCH = 2000;
const TTL_MS = 30 * 60_000;

/** A real session of the app and the user it belongs to: what every copy is made from. */
interface Template {
  json: string;
  userId: string;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * Any session that names its user (a UUID in the value), so the copies need to know nothing
 * about the session's format: the user id is swapped wherever it appears.
 */
async function findTemplate(redis: RedisClient): Promise<Template> {
  for (const key of await sampleKeys(redis, 'sess:*', 50)) {
    const json = await redis.get(key);
    const userId = json && UUID.exec(json)?.[0];
    if (json && userId) return { json, userId };
  }
  throw new Error('no session in Redis that names its user, to copy');
}

/**
 * A batch of copies: keys of the app's shape (`sess:` and 22 base64url characters) made from a
 * random prefix and a counter, so they can be removed again without keeping 100,000 strings in
 * this process (whose heap, and so its GC pauses, would otherwise grow with the store and make
 * the load generator, not the app, slower with more sessions).
 */
interface Batch {
  prefix: string;
  count: number;
}

const keyOf = (batch: Batch, i: number) => `sess:${batch.prefix}${i.toString(36).padStart(8, '0')}`;

/** Keys in Redis (DBSIZE: no key list built here). */
async function countSessions(redis: RedisClient): Promise<number> {
  return redis.dbSize();
}

/** Writes `count` copies of `template`, each for a new user. */
async function writeSessions(
  redis: RedisClient,
  template: Template,
  count: number,
): Promise<Batch> {
  const batch = { prefix: randomBytes(11).toString('base64url').slice(0, 14), count };
  for (let from = 0; from < count; from += BATCH) {
    const pipe = redis.multi();
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const json = template.json.replaceAll(template.userId, randomUUID());
      pipe.set(keyOf(batch, i), json, { expiration: { type: 'PX', value: TTL_MS } });
    }
    await pipe.execAsPipeline();
  }
  return batch;
}

async function removeSessions(redis: RedisClient, batch: Batch) {
  for (let from = 0; from < batch.count; from += BATCH) {
    const keys: string[] = [];
    for (let i = from; i < Math.min(batch.count, from + BATCH); i++) keys.push(keyOf(batch, i));
    await redis.unlink(keys);
  }
}

export async function measureGrowth(
  s: Subject,
  o: { small: number; large: number; rounds: number; warmupMs: number; durationMs: number },
  progress: (line: string) => void,
): Promise<GrowthResult> {
  const redis = s.redis;
  if (!redis) throw new Error(`${s.name} has no Redis`);
  const template = await findTemplate(redis);

  const present = await countSessions(redis);
  const small = Math.max(o.small, present);
  const base = await writeSessions(redis, template, small - present);
  const p50Small: number[] = [];
  const p50Large: number[] = [];
  const whoamiP50 = async () =>
    summarize(
      await runLoad(s.clients, {
        path: '/api/whoami',
        warmupMs: o.warmupMs,
        durationMs: o.durationMs,
      }),
      s.replicas,
    ).latency.p50;
  try {
    for (let round = 1; round <= o.rounds; round++) {
      progress(
        `round ${round}/${o.rounds}: ${small} sessions in Redis, whoami load ${o.durationMs / 1000} s …`,
      );
      p50Small.push(await whoamiP50());
      const extra = await writeSessions(redis, template, o.large - small);
      try {
        progress(
          `round ${round}/${o.rounds}: ${await countSessions(redis)} keys in Redis, whoami load ${o.durationMs / 1000} s …`,
        );
        p50Large.push(await whoamiP50());
      } finally {
        await removeSessions(redis, extra);
      }
    }
  } finally {
    await removeSessions(redis, base);
  }
  return { small, large: o.large, p50Small, p50Large, ratio: median(p50Large) / median(p50Small) };
}
