/**
 * Measurements 1 and 2: authenticated GET /api/whoami through nginx, as fast as the clients can
 * go; with the session store's commands and the Postgres statements the app ran in the same
 * window, and the CPU each part of the topology used.
 */
import { defined } from '../../src/common/defined.js';
import { runLoad, summarize } from '../load.js';
import {
  commandDelta,
  cpuDelta,
  cpuSnapshot,
  storeCommandCounts,
  storeLabel,
  type CpuSnapshot,
} from '../probes.js';
import type { CpuUse, ThroughputResult, ThroughputSample } from '../results.js';
import type { Subject } from '../subject.js';

interface Counters {
  /** Undefined without a store observer. */
  store?: Map<string, number>;
  postgres: number;
  cpu: CpuSnapshot;
}

async function readCounters(s: Subject): Promise<Counters> {
  const [store, postgres, cpu] = await Promise.all([
    s.stores.length ? storeCommandCounts(s.stores) : undefined,
    s.postgres.statements(),
    cpuSnapshot(s.topology.cluster),
  ]);
  return { store, postgres, cpu };
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
    storeCommands: before.store &&
      after.store && {
        label: storeLabel(s.stores),
        byName: commandDelta(before.store, after.store),
      },
    postgresStatements: after.postgres - before.postgres,
    cpu,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const at = (i: number) => defined(sorted[i], 'a middle value');
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

/** Medians per key over the records that have it. */
function medians(records: readonly Partial<Record<string, number>>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries(
    [...keys].map((key) => [
      key,
      median(records.map((r) => r[key]).filter((v): v is number => v !== undefined)),
    ]),
  );
}

/** Median CPU use per part over the runs. */
export function medianCpu(uses: readonly CpuUse[]): CpuUse {
  const core = medians(uses.map(({ stores: _, ...rest }) => rest));
  const stores = uses.some((u) => u.stores) ? medians(uses.map((u) => u.stores ?? {})) : undefined;
  return { ...core, ...(stores && { stores }) };
}

/** Medians of the runs' figures; per-read counts are summed over all runs first. */
export function aggregateThroughput(samples: ThroughputSample[]): ThroughputResult {
  const requests = samples.reduce((n, s) => n + s.load.requests, 0);
  const perRead = (n: number) => (requests ? n / requests : NaN);
  const byName: Record<string, number> = {};
  for (const s of samples) {
    for (const [name, calls] of Object.entries(s.storeCommands?.byName ?? {})) {
      byName[name] = (byName[name] ?? 0) + calls;
    }
  }
  const label = samples.find((s) => s.storeCommands)?.storeCommands?.label;
  const replicaCpuMs = samples.reduce(
    (n, s) => n + (s.cpu.replicas ?? 0) * s.load.seconds * 1000,
    0,
  );
  return {
    samples,
    rps: median(samples.map((s) => s.load.rps)),
    p50: median(samples.map((s) => s.load.latency.p50)),
    p99: median(samples.map((s) => s.load.latency.p99)),
    storeCommandsPerRead:
      label === undefined
        ? undefined
        : {
            label,
            total: perRead(Object.values(byName).reduce((a, b) => a + b, 0)),
            byName: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, perRead(v)])),
          },
    postgresStatementsPerRead: perRead(
      samples.reduce((n, s) => n + (s.postgresStatements ?? 0), 0),
    ),
    cpu: medianCpu(samples.map((s) => s.cpu)),
    replicaCpuMicrosPerRead: perRead(replicaCpuMs * 1000),
  };
}
