/**
 * The shape of bench/results/<timestamp>.json: everything one run measured. The report, the
 * chart and the targets are computed from this alone, so an old result can be re-rendered.
 */
import type { SessionSample } from '../cluster/services/service.js';
import type { LoadSummary } from './load.js';
import type { Traits } from './traits.js';

/** A profile of the table (cluster/profiles.ts) or a peer (topology.ts). */
export type TopologyName = string;

/**
 * CPU each part of the topology used during a measured window, in cores (1 = one core busy);
 * `machine` is every process on the machine together, `steal` the time the hypervisor took.
 */
export interface CpuUse {
  replicas?: number;
  nginx?: number;
  postgres?: number;
  /** Every other service: the session store's servers, by plugin name (e.g. { redis: 0.02 }). */
  stores?: Record<string, number>;
  load?: number;
  machine?: number;
  steal?: number;
}

/** Commands a session store's servers ran, per command name. */
export interface StoreCommands {
  /** The store observer's label, e.g. "Redis" (several observers: joined with " + "). */
  label: string;
  byName: Record<string, number>;
}

/** One measured whoami run. */
export interface ThroughputSample {
  load: LoadSummary;
  /** Every store command in the window (a delta of the observers' counters); none without one. */
  storeCommands?: StoreCommands;
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
  /** Summed over all samples, divided by all requests; `total` is every command together. */
  storeCommandsPerRead?: StoreCommands & { total: number };
  postgresStatementsPerRead?: number;
  /** Median CPU use per part, and the replicas' CPU per request (µs). */
  cpu: CpuUse;
  replicaCpuMicrosPerRead: number;
}

/** The replicas' heap around a batch of new sessions. */
export interface ReplicaMemoryResult {
  /** Sum of the replicas' heap growth (heapUsed after a full GC) ÷ sessions × 10 000. */
  heapGrowthPer10k: number;
  /** The same for resident memory: noisier (freed memory stays resident). */
  rssGrowthPer10k: number;
  /** heapUsed per replica, after a full GC. */
  heapBefore: Record<string, number>;
  heapAfter: Record<string, number>;
}

/** A session store's servers around the same batch, where a store observer exists. */
export interface StoreMemoryResult {
  /** The observer's label, e.g. "Redis". */
  label: string;
  /** Used-memory growth (Redis: used_memory) ÷ sessions created; NaN when none were created. */
  usedMemoryPerSession: number;
  /** Stored sessions, sampled, where the observer can (Redis: MEMORY USAGE of session keys). */
  sample?: SessionSample;
}

/** Measurement 4: what a session costs, wherever it lives, from one batch of new sessions. */
export interface MemoryResult {
  /** New sessions (one login per new user) between the readings; 0: the store was only sampled. */
  sessionsCreated: number;
  /** Undefined when no sessions were created (the peers). */
  replicas?: ReplicaMemoryResult;
  store?: StoreMemoryResult;
  /** Growth of the app's Postgres session index (user_sessions, with its indexes) ÷ sessions. */
  postgresIndexBytesPerSession?: number;
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

/** One cell of the fault matrix: a fault (bench/faults.ts) done to a profile under the read load. */
export interface FaultCell {
  fault: string;
  clients: number;
  /** Requests answered (or failed) from the fault's start to the end of the window. */
  requests: number;
  /** Of those, without a 2xx answer. */
  failed: number;
  /** The failures by kind (`502`, `no answer: socket hang up`), with counts. */
  failures?: Record<string, number>;
  /** Requests sent again once after their kept-alive connection was closed under them. */
  retried?: number;
  /** Clients answered "not authenticated" at least once after the fault began. */
  loggedOut: number;
  /** Clients whose session was unknown once everything was back (logged in again after). */
  sessionsLost: number;
  /** How long the fault itself took (a rolling restart: all of it). */
  faultMs: number;
  /** Fault's start → the last failed request; 0 when none failed. */
  recoveryMs: number;
  /** What the fault saw happen (scale: how soon the new replicas served, copies per session). */
  note?: string;
}

/** Measurement 8: the store's primary (or a Cluster master) SIGKILLed under load. */
export interface FailoverResult {
  /** Member names: the primary killed, the replicas one of which is expected to take over. */
  killed: string;
  replicas?: string[];
  /** Kill → first login answered 200 that was sent after the kill; NaN if none. */
  firstWriteAfterMs: number;
  /**
   * Kill → the last failed answer (0 if none): when every request succeeded again. Differs from
   * the first write under Redis Cluster, where the other masters' slots take writes throughout.
   */
  lastFailureAfterMs: number;
  /** Requests sent after the kill: all, answered 503, answered another 5xx, hung or unanswered. */
  requestsAfter: number;
  answered503: number;
  otherFailures: number;
  hangs: number;
  /** Failed answers after the kill by status (0: no answer), e.g. { 503: 40 }. */
  failuresByStatus: Record<string, number>;
  /** The slowest answer after the kill (ms). */
  slowestMs: number;
  /** Logins answered 200 (before and after the kill), and those whose session is gone. */
  loginsAcknowledged: number;
  loginsLost: number;
  /** Readers whose session (made before the load) is unknown after the failover. */
  readersLoggedOut: number;
  /** Whether /health/ready said "unavailable" during the failover, and "ok" after it. */
  readinessDown: boolean;
  readinessBack: boolean;
  lagMs: number;
}

/** Measurement 8 for a store that fails over: durable logins off, then on (WAIT 1). */
export interface FailoverRuns {
  off: FailoverResult;
  on?: FailoverResult;
  /** The login measurement again with durable logins on: what WAIT costs a login. */
  loginDurable?: LoginResult;
}

export interface LoginResult {
  /** Logins one after another by one client: the cost of one login. */
  sequential: { count: number; p50: number; p99: number };
  /** Logins from several clients at once: what the replicas sustain. */
  concurrent: { clients: number; seconds: number; perSecond: number; p50: number; p99: number };
  argon2: string;
}

export interface GrowthResult {
  /** The store observer's label, e.g. "Redis". */
  store: string;
  small: number;
  large: number;
  /** whoami p50 (ms) of each run, alternating small and large. */
  p50Small: number[];
  p50Large: number[];
  /** median(large) ÷ median(small). */
  ratio: number;
}

/** Writes on one replica, each read back at once on another (< 5 ms later). */
export interface StaleReads {
  writes: number;
  /** Reads that did not see the write yet. */
  stale: number;
  rate: number;
}

/** Replication over one kind of link: profile edits on one replica, the lag on the others. */
export interface LinkResult {
  /** 'loopback', or the network mode's link. */
  link: string;
  /** What each packet between two members waits, one way (0: loopback). */
  delayMs: number;
  writes: number;
  lagP50: number;
  lagP99: number;
  /** CPU of all replicas together per write, in ms, less what they use idle over as long. */
  replicaCpuMsPerWrite: number;
}

/** Measurement 8: replication between replicas (profiles with a peer channel). */
export interface ReplicationResult {
  /** whoami requests in the read-only window, and the peer messages they caused (T9: 0). */
  reads: number;
  messagesPerRead: number;
  /** Batched last-seen times: one message per peer per second at most, whatever the reads. */
  accessBatchesPerSecond: number;
  /** Profile edits on one replica during the write window. */
  writes: number;
  /** Messages the writing replica sent per peer per write (T9: ≤ 1). */
  messagesPerPeerPerWrite: number;
  /** Bytes (frames with data, heartbeats excluded) the writing replica sent per write, to all peers. */
  bytesPerWrite: number;
  /**
   * From the write's version to the moment it is visible on a peer, ms, under the whoami load
   * (T8): checked and queued by the peer's channel thread, whose queue every read of the
   * replicated sessions there takes first. Results before 2026-11-30 measured to the merge.
   */
  lagP50: number;
  lagP99: number;
  /** From the write's version to its merge into the peer's map by the peer's main thread, ms. */
  appliedP50?: number;
  appliedP99?: number;
  /**
   * From visible to merged, p99 ms (waiting in the queue for the main thread, validation, merge);
   * before 2026-11-30, from being read off the connection to merged.
   */
  handlingP99?: number;
  /** How late the peers' event loops ran a timer in the same window, p99 ms. */
  loopDelayP99?: number;
  /** The standard load in the write window: its readers and their whoami latency (ms). */
  readers?: number;
  readLatency?: { p50: number; p99: number };
  /** Reads per second of the standard load (the read-only window). */
  readsPerSecond?: number;
  /** The highest open-loop rate the row kept up with: what `bounded` is shares of, if present. */
  sustainedRate?: number;
  /** The same writes with the reads bounded to a share of sustainedRate (else readsPerSecond). */
  bounded?: LagUnderLoad[];
  /** `sync`: measured in full runs only (it takes two rolling restarts). */
  staleReads: { async: StaleReads; sync?: StaleReads };
  /** Sync mode: acknowledgements that did not come within REPLICATION_SYNC_TIMEOUT_MS. */
  syncTimeouts?: number;
}

/** Replication lag with the whoami reads bounded to a share of the standard load's rate. */
export interface LagUnderLoad {
  share: number;
  /** Reads per second the bound let through (at most share × the standard load's). */
  readsPerSecond: number;
  writes: number;
  lagP50: number;
  lagP99: number;
  appliedP99?: number;
  loopDelayP99: number;
}

/** Measurement 8 for `backup`: primary/backup replication (T10). */
export interface BackupResult {
  /** Sessions (each replica's primaries, summed) and the copies held of them (primary + backup). */
  sessions: number;
  /** T10: exactly 2. */
  copiesPerSession: number;
  heldPerReplica: Record<string, { primary: number; backup: number; proxy: number }>;
  reads: number;
  /** T10: 0. */
  messagesPerRead: number;
  writes: number;
  /** Every peer message the cluster sent per profile edit (T10: ≤ 1: the delta to the backup). */
  messagesPerWrite: number;
  bytesPerWrite: number;
  /** The first request after its primary's SIGKILL (nginx's failover, then promotion or fetch). */
  firstRequestAfterCrashMs: number;
  /** The request after that (served by the new primary from its own copy). */
  nextRequestMs: number;
  /** Writes the backup did not acknowledge within BACKUP_ACK_TIMEOUT_MS. */
  ackTimeouts: number;
}

/** What an operation costs with one number of replicas (a cluster of that size). */
export interface ScalingPoint {
  replicas: number;
  reads: number;
  writes: number;
  /** CPU all replicas used per read / per write, idle use (heartbeats, timers) taken off. */
  replicaCpuMicrosPerRead: number;
  replicaCpuMsPerWrite: number;
  /** Heap growth of all replicas per 10k new sessions ÷ replicas: what each one carries. */
  heapPer10kPerReplica: number;
  /** Profiles with a peer channel: messages (batched last-seen times apart) and bytes per write. */
  peerMessagesPerWrite?: number;
  peerBytesPerWrite?: number;
  /**
   * CPU µs all replicas spent in the peer channel per write (sealing and sending on the writer,
   * opening and applying on the receivers), counted inside the replicas around that code:
   * replication's own cost, apart from the rest of the request. Absent in older results.
   */
  peerWorkMicrosPerWrite?: number;
}

/** What it takes to run: processes, and the code that handles sessions. */
export interface Complexity {
  processes: string[];
  /** Files (relative to the project) and their line counts. */
  sessionCode: { file: string; lines: number }[];
  /** Services besides Postgres, the replicas and nginx: the session store's (plugin names). */
  stores: string[];
}

/**
 * Whoami latency at one fixed rate, open loop (measurements/latency.ts): from each request's
 * intended send time, in ms.
 */
export interface RateLatency {
  /** "50 %" or "80 %" (of `sustained`, or else the row's capacity), or "common" (every row's). */
  label: string;
  ratePerSecond: number;
  scheduled: number;
  answered: number;
  unanswered: number;
  failed: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** p99 from the actual send time: what a closed loop would have reported. */
  serviceP99: number;
  /** How late the generator got to each request on its schedule, p99 ms. */
  generatorLagP99: number;
  /** The generator fell behind its schedule twice: the figures measure it, not the row. */
  behind: boolean;
  attempts: number;
}

/** The highest fixed rate a row kept up with (measurements/latency.ts, sustainedRate). */
export interface SustainedRate {
  ratePerSecond: number;
  /** The bisection's probes in order: each one's rate and its queue's median wait, first and last quarter. */
  probes: {
    ratePerSecond: number;
    kept: boolean;
    /** null: no answer was due in that quarter. */
    firstP50: number | null;
    lastP50: number | null;
    behind: boolean;
  }[];
}

export interface WireResult {
  /** The request as a browser sends it: request line and headers, its cookies among them. */
  requestBytes: number;
  /** The Cookie header's value alone. */
  cookieBytes: number;
  /** The answer: status line, headers and body. */
  responseBytes: number;
}

export interface TopologyResult {
  name: TopologyName;
  kind: 'profile' | 'peer';
  what: string;
  upstream: string;
  store: string;
  /**
   * The row's traits (a peer: those of the row it borrows): what the report decides by, so that
   * a result renders without the profile table of its day.
   */
  traits: Traits;
  replicas: string[];
  complexity: Complexity;
  loginsForSetup: { clients: number; failed: number };
  throughput: ThroughputResult;
  /**
   * Open-loop latency at 50 % and 80 % of `sustained` (older runs: of `throughput.rps`) and at
   * the common rate.
   */
  latency?: RateLatency[];
  /** The highest open-loop rate the row kept up with; absent in runs before it was searched. */
  sustained?: SustainedRate;
  /** The same load from one shared address ("behind one NAT"). */
  nat?: LoadSummary;
  /** Bytes one logged-in read puts on the wire; absent in runs before it was measured. */
  wire?: WireResult;
  memory?: MemoryResult;
  kill?: KillResult;
  login?: LoginResult;
  failover?: FailoverRuns;
  growth?: GrowthResult;
  replication?: ReplicationResult;
  /** Replication over loopback and over links of one and two data centres (the network mode). */
  links?: LinkResult[];
  backup?: BackupResult;
  replicaScaling?: ScalingPoint[];
  /** The fault matrix's row: every fault that applies (quick runs: one per profile). */
  faults?: FaultCell[];
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
  /** One unmeasured run per topology before the first measured one (at least this long). */
  firstWarmupSeconds: number;
  /** The first warm-up went on until the throughput stopped rising; absent: exactly that long. */
  warmupUntilSteady?: boolean;
  durationSeconds: number;
  rounds: number;
  /** Each topology measured alone (started, measured, stopped); absent: all ran at once. */
  oneAtATime?: boolean;
  /** Topologies asked for that could not be measured (they failed to start or to load). */
  missing?: TopologyName[];
  /**
   * What the figures were measured under that a reader would otherwise assume; older result
   * files have none.
   */
  conditions?: {
    /** The peer channel thread's scheduling (REPLICATION_THREAD_PRIORITY). */
    threadPriority: string;
    /** Postgres's durability settings. */
    postgres: string;
    sessionIdleTimeoutSeconds: number;
    /**
     * The load generator's footing: the servers' niceness (the generator runs at 0) and the V8
     * flags it ran with against pauses (open-loop.ts); older result files have none.
     */
    generator?: GeneratorFooting;
  };
  /** The open-loop rate every row is measured at (req/s); older result files have none. */
  commonRate?: number;
  memorySessions: number;
  growthSessions: number;
  killSeconds: number;
  profiles: TopologyName[];
  peers: TopologyName[];
  appEnv: Record<string, string>;
  /**
   * The per-topology measurements run after the whoami rounds (--only); absent: all of them.
   * Older result files have none.
   */
  only?: Measurement[];
}

/** The measurements after the whoami rounds, as --only names them. */
export const measurements = [
  'latency',
  'growth',
  'nat',
  'wire',
  'login',
  'memory',
  'replication',
  'links',
  'scaling',
  'failover',
  'faults',
  'kill',
] as const;
export type Measurement = (typeof measurements)[number];

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  settings: BenchSettings;
  machine: Machine;
  topologies: TopologyResult[];
}

/** Where the load generator stood among the servers it measured (conditions, since issue 31). */
export interface GeneratorFooting {
  /** Each server's niceness, and its autogroup's where the kernel has them. */
  serverNiceness: number;
  /** The generator's own. */
  generatorNiceness: number;
  /** The kernel shares cores between sessions' autogroups before processes' niceness counts. */
  autogroups: boolean;
  v8Flags: string[];
}
