/**
 * A service plugin: one kind of server of the topology (Postgres, Redis, the app replicas, nginx,
 * ...). It starts its processes natively and reports when they are ready, stops them by PID, hands
 * the replicas their environment, describes its containers for docker-compose.yml, and lets the
 * benchmark look into it. The runner (cluster.ts) and the compose generator (compose.ts) only ever
 * talk to plugins through this interface.
 */
import type { ClusterOptions } from '../cluster.js';
import type { ComposeFile } from '../compose-file.js';
import type { ProcessLedger } from '../process/ledger.js';
import type { ServerProcess } from '../process/server-process.js';
import type { Profile } from '../profiles.js';
import type { UpstreamServer } from '../routing/index.js';
import type { PortBook } from '../work-dir.js';

/** One process of the topology that can be killed (crash), stopped (graceful) and started again. */
export interface Member {
  readonly name: string;
  /** What it is: 'postgres', 'redis', 'replica', 'nginx', ... (the status table's kind column). */
  readonly kind: string;
  readonly port: number;
  readonly pid: number | null;
  readonly running: boolean;
  readonly log: string;
  /** What runs it, where the runner knows (a replica: the Node it was started with). */
  readonly runtime?: string;
  /** SIGKILL, like a crash. */
  kill(): Promise<void>;
  /** Graceful: in-flight work finishes. */
  stop(): Promise<void>;
  /** Starts it again on its port and waits until it is ready; `env` is merged for a replica. */
  restart(env?: Record<string, string>): Promise<void>;
}

/** What a plugin is given to start, and what the plugins before it have made. */
export interface StartContext {
  readonly profile: Profile;
  readonly options: ClusterOptions;
  /** Holds everything the cluster writes: data, logs, rendered configs. */
  readonly workDir: string;
  readonly logDir: string;
  readonly readyTimeoutMs: number;
  /** Every process a plugin starts goes on it (ManagedProcessOptions.ledger). */
  readonly ledger: ProcessLedger;
  /**
   * Ports of servers that keep state, by `<plugin>/<member>`: the same as in the last run while
   * free, and what the last run had (a state file that names a port names a member by it).
   */
  readonly ports: PortBook;
  /** Environment for every replica, from the plugins started so far (DATABASE_URL, REDIS_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** The replicas, once the app plugin has started them: what nginx balances over. */
  readonly upstreams: readonly UpstreamServer[];
  progress(line: string): void;
}

/** Where clients reach the cluster: nginx's listeners. */
export interface Entry {
  url: string;
  httpsUrl: string;
  port: number;
  /** The certificate nginx serves over https (PEM). */
  certFile: string;
}

export interface StartedService {
  members: Member[];
  /** For every replica started after this plugin, e.g. { REDIS_URL: 'redis://127.0.0.1:…' }. */
  env?: Record<string, string>;
  /** The app plugin's replicas. */
  upstreams?: UpstreamServer[];
  /** The balancer's listeners. */
  entry?: Entry;
  /** A read-only look into a store server, for the benchmark (and, later, the dashboard). */
  observe?: () => Promise<StoreObserver>;
  /** The network between replicas, for profiles with a peer channel: what `partition` cuts. */
  peerNetwork?: PeerNetwork;
  /**
   * A store that fails over (Sentinel, Cluster): which member's crash makes it fail over now (the
   * current primary, or a master) and which member takes over. The e2e specs and the benchmark
   * kill the first.
   */
  failover?: () => Promise<FailoverPair>;
}

export interface PeerNetwork {
  /** Cuts every peer link from and to `replica` (its clients still reach it through nginx). */
  partition(replica: string): void;
  /** Restores every cut link. */
  heal(): void;
  readonly partitioned: string[];
  /** REPLICATION_* the runner gave `replica`. */
  envFor(replica: string): Record<string, string>;
}

/** Member names: a primary (or Cluster master) and the replica that would replace it. */
export interface FailoverPair {
  primary: string;
  /** None under Redis Cluster after a failover, until the old master is back as a replica. */
  replica?: string;
}

/**
 * What the benchmark can read from a store server. The required part only reads; the optional
 * methods are what a store offers where it can, and the benchmark measures where they exist.
 */
export interface StoreObserver {
  /** e.g. "Redis". */
  readonly label: string;
  /**
   * Commands served so far, per command name, not counting this observer's own reads (a delta of
   * two readings: the commands the replicas sent in between).
   */
  commandCounts(): Promise<Map<string, number>>;
  /** Memory it uses for data now, in bytes. */
  usedMemory(): Promise<number>;
  /** Up to `limit` stored sessions, sampled: what one costs in the store. Read-only. */
  sampleSessions?: (limit: number) => Promise<SessionSample>;
  /** Sessions it holds now (an upper bound where the store cannot tell them from other entries). */
  sessionCount?: () => Promise<number>;
  /**
   * Writes `count` copies of a stored session, each for a new user id, so the store holds what
   * that many logins would leave; resolves a function that removes them again. Changes what the
   * store holds: for measuring cost growth only.
   */
  fill?: (count: number) => Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Stored sessions, sampled. */
export interface SessionSample {
  /** How many were sampled. */
  count: number;
  /** Mean memory one takes in the store, key and bookkeeping included (Redis: MEMORY USAGE). */
  bytes: number;
  /** Mean length of the stored value. */
  valueBytes: number;
  /** One stored value, as stored. */
  example: string;
}

export interface ComposeContext {
  /** The profiles it serves: every profile, or, for a store plugin, those whose backend needs it. */
  readonly profiles: readonly Profile[];
  readonly replicas: readonly string[];
  /** What the plugins before it that serve every profile hand the app, e.g. DATABASE_URL. */
  readonly sharedEnv: Record<string, string>;
  /** What the store plugins before it hand a profile's replicas, e.g. { REDIS_URL: 'redis://redis:6379' }. */
  env(profile: Profile): Record<string, string>;
  /** The services a profile's replicas wait for (healthy) besides the migration, e.g. ['redis']. */
  waitFor(profile: Profile): string[];
}

/** What a plugin's containers give the replicas of the profiles it serves. */
export interface ComposeOutput {
  /** The counterpart of StartedService.env, with compose's host names. */
  env?: Record<string, string>;
  /** Its services the replicas must wait for, healthy. */
  waitFor?: string[];
}

export interface ServicePlugin {
  /** Names it in a backend record's `services`. */
  readonly name: string;
  start(ctx: StartContext): Promise<StartedService>;
  /** Adds its services (and fragments, volumes) to the compose file. */
  compose(file: ComposeFile, ctx: ComposeContext): ComposeOutput | void;
}

/**
 * The compose services (and cluster members) of a plugin: its own name for one server, or
 * `<plugin>-1`, `<plugin>-2`, ... for several nodes (memcached).
 */
export const nodeName = (plugin: string, n: number): string => `${plugin}-${n}`;
export const isServiceOf = (plugin: string, service: string): boolean =>
  service === plugin ||
  (service.startsWith(`${plugin}-`) && /^\d+$/.test(service.slice(plugin.length + 1)));

/** A Member over a server handle (Postgres, Redis, ...): its status and actions, by PID. */
export function serverMember(
  name: string,
  kind: string,
  server: ServerProcess,
  log: string,
  hooks: {
    /** Runs before each restart, e.g. to point a Redis replica at the current primary. */
    beforeRestart?: () => Promise<void>;
    /**
     * Runs after the server answers again; a restart returns when it resolves. For a store whose
     * nodes must agree again (Redis Cluster), "ready" is the whole store, not the one process.
     */
    afterRestart?: () => Promise<void>;
  } = {},
): Member {
  return {
    name,
    kind,
    port: server.port,
    get pid() {
      return server.running ? server.pid : null;
    },
    get running() {
      return server.running;
    },
    log,
    kill: () => server.kill(),
    stop: () => server.stop(),
    restart: async () => {
      await server.stop();
      await hooks.beforeRestart?.();
      await server.restart();
      await hooks.afterRestart?.();
    },
  };
}
