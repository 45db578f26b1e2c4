/**
 * Measurements 1 and 2: authenticated GET /api/whoami through nginx, as fast as the clients can
 * go; with the Redis commands and Postgres statements the app ran in the same window, and the
 * CPU each part of the topology used.
 */
import { runLoad, summarize } from '../load.js';
import {
  commandDelta,
  cpuDelta,
  cpuSnapshot,
  redisCommandCounts,
  type CpuSnapshot,
} from '../probes.js';
import type { CpuUse, ThroughputResult, ThroughputSample } from '../results.js';
import type { Subject } from '../subject.js';

interface Counters {
  redis?: Map<string, number>;
  postgres: number;
  cpu: CpuSnapshot;
}

async function readCounters(s: Subject): Promise<Counters> {
  const [redis, postgres, cpu] = await Promise.all([
    s.redis ? redisCommandCounts(s.redis) : undefined,
    s.postgres.statements(),
    cpuSnapshot(s.topology.cluster),
  ]);
  return { redis, postgres, cpu };
}

export async function measureThroughput(
  s: Subject,
  o: { warmupMs: number; durationMs: number },
): Promise<ThroughputSample> {
  let before: Counters | undefined;
  let after: Counters | undefined;
  const run = await runLoad(s.clients, {
    path: '/api/whoami',
    ...o,
    events: [
      { atMs: 0, run: async () => void (before = await readCounters(s)) },
      { atMs: o.durationMs, run: async () => void (after = await readCounters(s)) },
    ],
  });
  if (!before || !after) throw new Error('the counters were not read at both ends of the run');
  const cpu = cpuDelta(before.cpu, after.cpu);
  cpu.load = run.loadCpuMs / o.durationMs;
  return {
    load: summarize(run, s.replicas),
    redisCommands: before.redis && after.redis && commandDelta(before.redis, after.redis),
    postgresStatements: after.postgres - before.postgres,
    cpu,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians of the runs' figures; per-read counts are summed over all runs first. */
export function aggregateThroughput(samples: ThroughputSample[]): ThroughputResult {
  const requests = samples.reduce((n, s) => n + s.load.requests, 0);
  const perRead = (n: number) => (requests ? n / requests : NaN);
  const byName: Record<string, number> = {};
  for (const s of samples) {
    for (const [name, calls] of Object.entries(s.redisCommands ?? {})) {
      byName[name] = (byName[name] ?? 0) + calls;
    }
  }
  const withRedis = samples.some((s) => s.redisCommands);
  const cpu: CpuUse = {};
  for (const part of [
    'nginx',
    'replicas',
    'redis',
    'postgres',
    'load',
    'machine',
    'steal',
  ] as const) {
    const values = samples.map((s) => s.cpu[part]).filter((v): v is number => v !== undefined);
    if (values.length) cpu[part] = median(values);
  }
  const replicaCpuMs = samples.reduce(
    (n, s) => n + (s.cpu.replicas ?? 0) * s.load.seconds * 1000,
    0,
  );
  return {
    samples,
    rps: median(samples.map((s) => s.load.rps)),
    p50: median(samples.map((s) => s.load.latency.p50)),
    p99: median(samples.map((s) => s.load.latency.p99)),
    redisCommandsPerRead: withRedis
      ? perRead(Object.values(byName).reduce((a, b) => a + b, 0))
      : undefined,
    redisCommandsPerReadByName: withRedis
      ? Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, perRead(v)]))
      : undefined,
    postgresStatementsPerRead: perRead(
      samples.reduce((n, s) => n + (s.postgresStatements ?? 0), 0),
    ),
    cpu,
    replicaCpuMicrosPerRead: perRead(replicaCpuMs * 1000),
  };
}
