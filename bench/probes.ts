/**
 * Read-only looks into the running topology: Redis' command counters and memory, Postgres'
 * statement counters, and each process' CPU time and resident memory from /proc.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { createClient } from 'redis';
import { descendantsOf } from '../cluster/index.js';
import type { Cluster } from '../cluster/cluster.js';
import type { CpuUse } from './results.js';

const newRedisClient = (url: string) => createClient({ url, disableOfflineQueue: true });
export type RedisClient = ReturnType<typeof newRedisClient>;

export async function connectRedis(url: string): Promise<RedisClient> {
  const client = newRedisClient(url);
  client.on('error', () => undefined); // a refused connect rejects connect() below
  await client.connect();
  return client;
}

/** Calls per command name so far (`INFO commandstats`), e.g. { get: 120, expire: 118 }. */
export async function redisCommandCounts(redis: RedisClient): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const counts = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

/**
 * Commands between two snapshots. The first snapshot's own INFO is counted by the second one
 * (Redis counts a command after running it), so one `info` is taken off: the rest is the app's.
 */
export function commandDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after) {
    const n = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (n > 0) delta[name] = n;
  }
  return delta;
}

export async function redisUsedMemory(redis: RedisClient): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/** Up to `limit` keys matching `pattern`. */
export async function sampleKeys(
  redis: RedisClient,
  pattern: string,
  limit: number,
): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    keys.push(...batch);
    if (keys.length >= limit) break;
  }
  return keys.slice(0, limit);
}

/**
 * The app's Postgres role's statement count from pg_stat_statements (needs the library preloaded:
 * see topology.ts). Per role, so our own probing queries (as the superuser) are not counted.
 */
export class PostgresProbe {
  private constructor(private readonly client: pg.Client) {}

  static async connect(superuserUrl: string): Promise<PostgresProbe> {
    const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return new PostgresProbe(client);
  }

  async statements(role = 'app'): Promise<number> {
    const { rows } = await this.client.query<{ calls: string }>(
      `SELECT coalesce(sum(s.calls), 0) AS calls FROM pg_stat_statements s
         JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1`,
      [role],
    );
    return Number(rows[0]!.calls);
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

// Linux reports CPU time in clock ticks; 100 per second on every mainstream kernel build.
const TICKS_PER_SECOND = 100;

async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000; // utime + stime
  } catch {
    return 0; // exited meanwhile
  }
}

/** Resident memory of one process, in bytes (0 when it is gone). */
export async function processRss(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

type Part = Exclude<keyof CpuUse, 'load'>;

/** Busy and stolen CPU time of the whole machine so far (ms), from the first line of /proc/stat. */
async function machineCpuMs(): Promise<{ busy: number; steal: number }> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  const toMs = (ticks: number) => (ticks / TICKS_PER_SECOND) * 1000;
  return {
    busy: toMs((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)),
    steal: toMs(steal ?? 0),
  };
}
const PART_OF_KIND: Record<string, Part> = {
  nginx: 'nginx',
  replica: 'replicas',
  redis: 'redis',
  postgres: 'postgres',
};

export interface CpuSnapshot {
  /** performance.now() when /proc/stat was read. */
  at: number;
  /** CPU milliseconds used so far by each part (a process and what it forked). */
  parts: Map<Part, number>;
}

export async function cpuSnapshot(cluster: Cluster): Promise<CpuSnapshot> {
  const at = performance.now();
  const machine = await machineCpuMs();
  const parts = new Map<Part, number>([
    ['machine', machine.busy],
    ['steal', machine.steal],
  ]);
  for (const member of cluster.status()) {
    const part = PART_OF_KIND[member.kind];
    if (!part || !member.pid) continue;
    const pids = [member.pid, ...(await descendantsOf(member.pid)).map((p) => p.pid)];
    const ms = (await Promise.all(pids.map(processCpuMs))).reduce((a, b) => a + b, 0);
    parts.set(part, (parts.get(part) ?? 0) + ms);
  }
  return { at, parts };
}

/** Cores used per part between two snapshots. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const use: CpuUse = {};
  const ms = after.at - before.at;
  // A process that exited in between takes its CPU time with it: never below zero.
  for (const [part, total] of after.parts) {
    use[part] = Math.max(0, total - (before.parts.get(part) ?? 0)) / ms;
  }
  return use;
}
