/**
 * Measurement 4: what a session costs in memory. In Redis, `MEMORY USAGE` of sampled session keys
 * (plus any per-user index keys kept there), and `used_memory` growth over many new sessions; the
 * app keeps its per-user index in Postgres, whose growth is reported beside it. With the memory store,
 * the replicas' heap growth after a full GC (and their resident memory, for comparison). New sessions come from real logins through nginx, one per
 * freshly seeded user (a cheap password hash keeps that fast).
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientAddress, VirtualClient } from '../load.js';
import { redisUsedMemory, sampleKeys, type RedisClient } from '../probes.js';
import type { RedisMemoryResult, ReplicaMemoryResult } from '../results.js';
import type { Subject } from '../subject.js';
import { logIn, seedUsers } from '../users.js';

const SAMPLE = 200;
const LOGIN_CLIENTS = 16;

/** `count` new sessions, one per new user, each logged in once from one of a few clients. */
async function createSessions(s: Subject, prefix: string, count: number): Promise<void> {
  const names = await seedUsers(s.topology.postgresUrl, prefix, count, s.passwordHash);
  const pool = Array.from(
    { length: LOGIN_CLIENTS },
    (_, i) => new VirtualClient(s.url, clientAddress(10_000 + i)),
  );
  let next = 0;
  try {
    await Promise.all(
      pool.map(async (client) => {
        while (next < names.length) {
          const outcome = await logIn([client], [names[next++]!], 1);
          if (outcome.failed) throw new Error(`session logins failed: ${outcome.firstFailure}`);
        }
      }),
    );
  } finally {
    pool.forEach((c) => c.close());
  }
}

async function memoryUsage(redis: RedisClient, key: string): Promise<number> {
  return (await redis.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
}

/**
 * Per-user index keys in Redis, for a store that keeps them there (the app's index is in
 * Postgres, src/session/backends/session-index.ts; the peers have none). Found by key name.
 */
export const REDIS_INDEX_PATTERN = 'user-sessions:*';

/** Bytes of the app's Postgres session index (table and its indexes); undefined without one. */
async function postgresIndexBytes(url: string): Promise<number | undefined> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ bytes: string | null }>(
      "SELECT pg_total_relation_size(to_regclass('user_sessions')) AS bytes",
    );
    return rows[0]?.bytes == null ? undefined : Number(rows[0].bytes);
  } finally {
    await db.end();
  }
}

async function sampleSessions(redis: RedisClient) {
  const keys = await sampleKeys(redis, 'sess:*', SAMPLE);
  if (keys.length === 0) throw new Error('no session keys in Redis to sample');
  let bytes = 0;
  let valueBytes = 0;
  for (const key of keys) {
    bytes += await memoryUsage(redis, key);
    valueBytes += await redis.strLen(key);
  }
  return { keys, keyBytes: bytes / keys.length, valueBytes: valueBytes / keys.length };
}

/**
 * What the index costs per session for a user with one session (most users, and what the new
 * sessions here are); users with many sessions share one key and pay less each.
 */
async function indexBytesPerSession(redis: RedisClient): Promise<number> {
  let bytes = 0;
  let entries = 0;
  let single = { bytes: 0, keys: 0 };
  for (const key of await sampleKeys(redis, REDIS_INDEX_PATTERN, 5 * SAMPLE)) {
    const usage = await memoryUsage(redis, key);
    const card = await redis.zCard(key);
    bytes += usage;
    entries += card;
    if (card === 1) single = { bytes: single.bytes + usage, keys: single.keys + 1 };
  }
  if (single.keys) return single.bytes / single.keys;
  return entries ? bytes / entries : 0;
}

export async function measureRedisMemory(s: Subject, sessions: number): Promise<RedisMemoryResult> {
  const redis = s.redis;
  if (!redis) throw new Error(`${s.name} has no Redis`);
  const before = await redisUsedMemory(redis);
  const pgBefore = await postgresIndexBytes(s.topology.postgresUrl);
  if (sessions > 0) await createSessions(s, 'memory', sessions);
  const after = await redisUsedMemory(redis);
  const pgAfter = await postgresIndexBytes(s.topology.postgresUrl);

  const sample = await sampleSessions(redis);
  const index = await indexBytesPerSession(redis);
  return {
    sampled: sample.keys.length,
    sessionKeyBytes: sample.keyBytes,
    sessionJsonBytes: sample.valueBytes,
    indexBytesPerSession: index,
    bytesPerSession: sample.keyBytes + index,
    postgresIndexBytesPerSession:
      pgBefore !== undefined && pgAfter !== undefined && sessions > 0
        ? (pgAfter - pgBefore) / sessions
        : undefined,
    sessionsCreated: sessions,
    usedMemoryPerSession: sessions > 0 ? (after - before) / sessions : NaN,
    example: (await redis.get(sample.keys[0]!)) ?? '',
  };
}

interface HeapReading {
  at: number;
  rss: number;
  heapUsed: number;
}

/** Asks each replica for its heap after a full GC (replica-probe.ts); waits, bounded, for the answers. */
async function heapOf(s: Subject): Promise<Record<string, HeapReading>> {
  const asked = Date.now();
  const replicas = s.topology.cluster.status().filter((m) => m.kind === 'replica' && m.pid);
  const out: Record<string, HeapReading> = {};
  for (const m of replicas) process.kill(m.pid!, 'SIGWINCH');
  const deadline = Date.now() + 10_000;
  for (const m of replicas) {
    const file = join(s.topology.cluster.workDir, `${m.name}.json`);
    for (;;) {
      const reading = await readFile(file, 'utf8').then(
        (text) => JSON.parse(text) as HeapReading,
        () => undefined,
      );
      if (reading && reading.at >= asked) {
        out[m.name] = reading;
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`${m.name} did not report its heap (replica-probe.ts)`);
      await sleep(100);
    }
  }
  return out;
}

export async function measureReplicaMemory(
  s: Subject,
  sessions: number,
): Promise<ReplicaMemoryResult> {
  const before = await heapOf(s);
  await createSessions(s, 'memory', sessions);
  const after = await heapOf(s);
  const growth = (key: 'rss' | 'heapUsed') =>
    Object.keys(after).reduce((n, name) => n + after[name]![key] - (before[name]?.[key] ?? 0), 0);
  const pick = (readings: Record<string, HeapReading>) =>
    Object.fromEntries(Object.entries(readings).map(([name, r]) => [name, r.heapUsed]));
  return {
    sessionsCreated: sessions,
    heapGrowthPer10k: (growth('heapUsed') / sessions) * 10_000,
    rssGrowthPer10k: (growth('rss') / sessions) * 10_000,
    heapBefore: pick(before),
    heapAfter: pick(after),
  };
}
