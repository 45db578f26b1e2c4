/** A small, hand-made BenchResult for the specs: change one figure, check what follows from it. */
import { profileOf } from '../cluster/profiles.js';
import type { LoadSummary } from './load.js';
import type { BenchResult, TopologyName, TopologyResult } from './results.js';
import { topologySpecs } from './topology.js';
import { traitsOf } from './traits.js';

export function loadSummary(over: Partial<LoadSummary> = {}): LoadSummary {
  return {
    clients: 100,
    seconds: 10,
    requests: 30_000,
    rps: 3000,
    latency: { count: 30_000, mean: 30, p50: 25, p90: 40, p99: 90, max: 200 },
    non2xx: 0,
    errors: 0,
    authenticatedShare: 1,
    shares: { 'app-1': 0.34, 'app-2': 0.33, 'app-3': 0.33 },
    skew: 1.03,
    loadCpuPercent: 30,
    ...over,
  };
}

export function topology(
  name: TopologyName,
  over: Partial<TopologyResult> = {},
  throughput: Partial<TopologyResult['throughput']> = {},
): TopologyResult {
  const peer = ['bare', 'express', 'express-notouch'].includes(name);
  const store =
    name === 'naive' || name === 'sticky'
      ? 'memory'
      : ['replicated', 'backup', 'postgres'].includes(name)
        ? name
        : 'redis';
  const stores = store === 'redis' ? ['redis'] : [];
  return {
    name,
    kind: peer ? 'peer' : 'profile',
    what: `${name} for the specs`,
    upstream: name === 'sticky' ? 'ip-hash' : 'round-robin',
    store,
    // A peer has the traits of the row it borrows; a made-up name, those of `redis`'s row.
    traits: traitsOf(profileOf(topologySpecs[name]?.profile ?? 'redis')),
    replicas: ['app-1', 'app-2', 'app-3'],
    complexity: {
      processes: ['postgres', ...stores, 'app-1', 'app-2', 'app-3', 'nginx'],
      sessionCode: [],
      stores,
    },
    loginsForSetup: { clients: 100, failed: 0 },
    throughput: {
      samples: [{ load: loadSummary(), cpu: { replicas: 1 } }],
      rps: 3000,
      p50: 25,
      p99: 90,
      postgresStatementsPerRead: 0,
      cpu: { replicas: 1 },
      replicaCpuMicrosPerRead: 300,
      ...throughput,
    },
    notes: [],
    ...over,
  };
}

export function benchResult(topologies: TopologyResult[]): BenchResult {
  return {
    startedAt: '2026-01-01T12:00:00.000Z',
    finishedAt: '2026-01-01T12:05:00.000Z',
    seconds: 300,
    settings: {
      quick: false,
      cpuProfile: false,
      clients: 100,
      warmupSeconds: 2,
      firstWarmupSeconds: 8,
      durationSeconds: 10,
      rounds: 3,
      memorySessions: 10_000,
      growthSessions: 100_000,
      killSeconds: 9,
      profiles: ['naive', 'sticky', 'redis'],
      peers: ['bare', 'express', 'express-notouch'],
      appEnv: {},
    },
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 24,
      os: 'Debian 12',
      node: 'v20.20.2',
      nginx: '1.22.1',
      redis: '7.0.15',
      postgres: '15.18',
    },
    topologies,
  };
}
