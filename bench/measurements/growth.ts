/**
 * Measurement 7: does a read get slower as the store fills up? whoami p50 with `small` sessions
 * in Redis, then with `large`, alternating (timing here is noisy: each size is measured several
 * times and the medians compared). The extra sessions are written straight into Redis with a
 * pipeline: a real session of the app, copied with new session and user ids, under the same
 * `sess:<id>` keys and with the same per-user index entries, so Redis holds what that many logins
 * would leave.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { runLoad, summarize } from '../load.js';
import { sampleKeys, type RedisClient } from '../probes.js';
import type { GrowthResult } from '../results.js';
import type { Subject } from '../subject.js';
import { INDEX_PATTERN } from './memory.js';
import { median } from './throughput.js';

const BATCH = 2000;
const TTL_MS = 30 * 60_000;

/** A real session of the app and the user it belongs to: what every copy is made from. */
interface Template {
  json: string;
  userId: string;
}

/**
 * Found through the per-user index (user-sessions:<user id> → session ids), so the copies need
 * to know nothing about the session's format: the user id is swapped wherever it appears.
 */
async function findTemplate(redis: RedisClient): Promise<Template> {
  for (const key of await sampleKeys(redis, INDEX_PATTERN, 50)) {
    const userId = key.slice(INDEX_PATTERN.length - 1);
    const [sid] = await redis.zRange(key, 0, 0);
    const json = sid && (await redis.get(`sess:${sid}`));
    if (json && json.includes(userId)) return { json, userId };
  }
  throw new Error('no session in Redis with a per-user index entry to copy');
}

/** express-session's ids: 24 random bytes, base64url (32 characters). */
const newSid = () => randomBytes(24).toString('base64url');

async function countSessions(redis: RedisClient): Promise<number> {
  return (await sampleKeys(redis, 'sess:*', Number.MAX_SAFE_INTEGER)).length;
}

/** Writes `count` copies of `template`, each for a new user; returns them, for removal. */
async function writeSessions(redis: RedisClient, template: Template, count: number) {
  const written: { sid: string; userId: string }[] = [];
  for (let from = 0; from < count; from += BATCH) {
    const pipe = redis.multi();
    const expiry = Date.now() + TTL_MS;
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const sid = newSid();
      const userId = randomUUID();
      const json = template.json.replaceAll(template.userId, userId);
      pipe.set(`sess:${sid}`, json, { expiration: { type: 'PX', value: TTL_MS } });
      pipe.zAdd(`user-sessions:${userId}`, { score: expiry, value: sid });
      pipe.pExpireAt(`user-sessions:${userId}`, expiry);
      written.push({ sid, userId });
    }
    await pipe.execAsPipeline();
  }
  return written;
}

async function removeSessions(redis: RedisClient, sessions: { sid: string; userId: string }[]) {
  for (let from = 0; from < sessions.length; from += BATCH) {
    const batch = sessions.slice(from, from + BATCH);
    await redis.unlink(batch.flatMap((s) => [`sess:${s.sid}`, `user-sessions:${s.userId}`]));
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
          `round ${round}/${o.rounds}: ${await countSessions(redis)} sessions in Redis, whoami load ${o.durationMs / 1000} s …`,
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
