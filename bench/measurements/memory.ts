/**
 * Measurement 4: what a session costs in memory, wherever it lives. Around one batch of new
 * sessions: the replicas' heap growth after a full GC (and their resident memory, for
 * comparison), the store's used memory where an observer looks into it, and the app's per-user
 * session index in Postgres. Then a sample of stored sessions, where the store offers one. New
 * sessions come from real logins through nginx, one per freshly seeded user (a cheap password
 * hash keeps that fast).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { clientAddress } from '../load.js';
import { storeLabel } from '../probes.js';
import type { MemoryResult, ReplicaMemoryResult } from '../results.js';
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
  // One iterator shared by the clients: each takes the next name when it is free.
  const queue = names.values();
  try {
    await Promise.all(
      pool.map(async (client) => {
        for (const name of queue) {
          // Set-up, not what is measured: a 503 (busy Postgres on shared cores) is tried again.
          const outcome = await logIn([client], [name], 1, 3);
          if (outcome.failed)
            throw new Error(
              `session logins failed: ${await s.topology.explain(outcome.firstFailure)}`,
            );
        }
      }),
    );
  } finally {
    for (const c of pool) c.close();
  }
}

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

interface HeapReading {
  at: number;
  rss: number;
  heapUsed: number;
}

/** Asks each replica for its heap after a full GC (replica-probe.ts); waits, bounded, for the answers. */
async function heapOf(s: Subject): Promise<Record<string, HeapReading>> {
  const asked = Date.now();
  const replicas = s.topology.cluster
    .status()
    .flatMap((m) => (m.kind === 'replica' && m.pid ? [{ name: m.name, pid: m.pid }] : []));
  const out: Record<string, HeapReading> = {};
  for (const m of replicas) process.kill(m.pid, 'SIGWINCH');
  const deadline = Date.now() + 10_000;
  for (const m of replicas) {
    const file = join(s.topology.cluster.workDir, `${m.name}.json`);
    for (;;) {
      // Not there yet, or caught half-written (JSON.parse fails): ask again.
      const reading = await readFile(file, 'utf8')
        .then((text) => JSON.parse(text) as HeapReading)
        .catch(() => undefined);
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

function heapGrowth(
  before: Record<string, HeapReading>,
  after: Record<string, HeapReading>,
  sessions: number,
): ReplicaMemoryResult {
  const growth = (key: 'rss' | 'heapUsed') =>
    Object.entries(after).reduce((n, [name, r]) => n + r[key] - (before[name]?.[key] ?? 0), 0);
  const pick = (readings: Record<string, HeapReading>) =>
    Object.fromEntries(Object.entries(readings).map(([name, r]) => [name, r.heapUsed]));
  return {
    heapGrowthPer10k: (growth('heapUsed') / sessions) * 10_000,
    rssGrowthPer10k: (growth('rss') / sessions) * 10_000,
    heapBefore: pick(before),
    heapAfter: pick(after),
  };
}

const sum = async (values: Promise<number>[]) =>
  (await Promise.all(values)).reduce((a, b) => a + b, 0);

/**
 * `sessions` new sessions, with the replicas', the store's and Postgres' memory read before and
 * after; with 0 (the peers) the store is only sampled.
 */
export async function measureMemory(s: Subject, sessions: number): Promise<MemoryResult> {
  const readings = async () => ({
    heap: sessions > 0 ? await heapOf(s) : undefined,
    store: await sum(s.stores.map((o) => o.usedMemory())),
    postgres: await postgresIndexBytes(s.topology.postgresUrl),
  });
  const before = await readings();
  if (sessions > 0) await createSessions(s, 'memory', sessions);
  const after = await readings();

  const perSession = (grown: number) => (sessions > 0 ? grown / sessions : NaN);
  const sampler = s.stores.find((o) => o.sampleSessions);
  return {
    sessionsCreated: sessions,
    replicas: before.heap && after.heap && heapGrowth(before.heap, after.heap, sessions),
    store: s.stores.length
      ? {
          label: storeLabel(s.stores),
          usedMemoryPerSession: perSession(after.store - before.store),
          sample: await sampler?.sampleSessions?.(SAMPLE),
        }
      : undefined,
    postgresIndexBytesPerSession:
      before.postgres === undefined || after.postgres === undefined || sessions === 0
        ? undefined
        : perSession(after.postgres - before.postgres),
  };
}
