/**
 * The shape of bench/results/<timestamp>.json: everything one run measured. The report, the
 * chart and the targets are computed from this alone, so an old result can be re-rendered.
 */
import type { LoadSummary } from './load.js';

export type TopologyName = 'naive' | 'sticky' | 'redis' | 'bare' | 'express' | 'express-notouch';

/**
 * CPU each part of the topology used during a measured window, in cores (1 = one core busy);
 * `machine` is every process on the machine together, `steal` the time the hypervisor took.
 */
export type CpuUse = Partial<
  Record<'nginx' | 'replicas' | 'redis' | 'postgres' | 'load' | 'machine' | 'steal', number>
>;

/** One measured whoami run. */
export interface ThroughputSample {
  load: LoadSummary;
  /** Every Redis command in the window (`INFO commandstats` delta), per command name. */
  redisCommands?: Record<string, number>;
  /** Statements the app's Postgres role ran in the window (pg_stat_statements `calls` delta). */
  postgresStatements?: number;
  cpu: CpuUse;
}

export interface ThroughputResult {
  samples: ThroughputSample[];
  /** Medians over the samples. */
  rps: number;
  p50: number;
  p99: number;
  /** Summed over all samples, divided by all requests. */
  redisCommandsPerRead?: number;
  redisCommandsPerReadByName?: Record<string, number>;
  postgresStatementsPerRead?: number;
  /** Median CPU use per part, and the replicas' CPU per request (µs). */
  cpu: CpuUse;
  replicaCpuMicrosPerRead: number;
}

export interface RedisMemoryResult {
  /** How many `sess:*` keys were sampled. */
  sampled: number;
  /** Mean `MEMORY USAGE` of one session key, and its JSON length. */
  sessionKeyBytes: number;
  sessionJsonBytes: number;
  /** Per-user index keys in Redis (the app keeps its index in Postgres: 0), per session. */
  indexBytesPerSession: number;
  /** sessionKeyBytes + indexBytesPerSession. */
  bytesPerSession: number;
  /** Growth of the app's Postgres index (user_sessions, with its indexes) ÷ sessions; undefined without one. */
  postgresIndexBytesPerSession?: number;
  /** `used_memory` growth ÷ sessions created (one login per user); NaN when none were created. */
  sessionsCreated: number;
  usedMemoryPerSession: number;
  /** One stored session, for the report (cookie and ids shortened). */
  example: string;
}

export interface ReplicaMemoryResult {
  sessionsCreated: number;
  /** Sum of the replicas' heap growth (heapUsed after a full GC) ÷ sessions × 10 000. */
  heapGrowthPer10k: number;
  /** The same for resident memory: noisier (freed memory stays resident). */
  rssGrowthPer10k: number;
  /** heapUsed per replica, after a full GC. */
  heapBefore: Record<string, number>;
  heapAfter: Record<string, number>;
}

export interface KillResult {
  replica: string;
  killedAtSeconds: number;
  seconds: number;
  requests: number;
  /** Requests without a 2xx answer (errors and non-2xx), from the kill to the end. */
  failed: number;
  clients: number;
  /** Clients with no authenticated answer after the kill (their session died with the replica). */
  loggedOut: number;
  /** Share of authenticated answers before and after the kill. */
  authenticatedBefore: number;
  authenticatedAfter: number;
}

export interface LoginResult {
  /** Logins one after another by one client: the cost of one login. */
  sequential: { count: number; p50: number; p99: number };
  /** Logins from several clients at once: what the replicas sustain. */
  concurrent: { clients: number; seconds: number; perSecond: number; p50: number; p99: number };
  argon2: string;
}

export interface GrowthResult {
  small: number;
  large: number;
  /** whoami p50 (ms) of each run, alternating small and large. */
  p50Small: number[];
  p50Large: number[];
  /** median(large) ÷ median(small). */
  ratio: number;
}

/** What it takes to run: processes, and the code that handles sessions. */
export interface Complexity {
  processes: string[];
  /** Files (relative to the project) and their line counts. */
  sessionCode: { file: string; lines: number }[];
}

export interface TopologyResult {
  name: TopologyName;
  kind: 'profile' | 'peer';
  what: string;
  upstream: string;
  store: string;
  replicas: string[];
  complexity: Complexity;
  loginsForSetup: { clients: number; failed: number };
  throughput: ThroughputResult;
  /** The same load from one shared address ("behind one NAT"). */
  nat?: LoadSummary;
  redisMemory?: RedisMemoryResult;
  replicaMemory?: ReplicaMemoryResult;
  kill?: KillResult;
  login?: LoginResult;
  growth?: GrowthResult;
  /** What could not be measured, and why. */
  notes: string[];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  nginx: string;
  redis: string;
  postgres: string;
}

export interface BenchSettings {
  quick: boolean;
  /** CPU profiles were recorded in the last round (which slows it a little). */
  cpuProfile: boolean;
  clients: number;
  warmupSeconds: number;
  /** One unmeasured run per topology before the first measured one. */
  firstWarmupSeconds: number;
  durationSeconds: number;
  rounds: number;
  memorySessions: number;
  growthSessions: number;
  killSeconds: number;
  profiles: TopologyName[];
  peers: TopologyName[];
  appEnv: Record<string, string>;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  settings: BenchSettings;
  machine: Machine;
  topologies: TopologyResult[];
}
