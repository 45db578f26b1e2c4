/**
 * What a cluster is started with: the runner (cluster.ts) takes it, and the service plugins read
 * it (the number of replicas, extra environment). Its own file so that neither imports the other.
 */
import type { LinkDelay } from './network/delay.js';
import type { ProfileName } from './profiles.js';

export interface ClusterOptions {
  profile: ProfileName;
  /**
   * Holds everything the cluster writes: data, logs, rendered configs. A cluster starts again
   * on what it left there (see work-dir.ts).
   */
  workDir: string;
  /** Discard what an earlier run left in `workDir` first: a cluster with no users and no sessions. */
  fresh?: boolean;
  /** nginx's port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** nginx's https port (self-signed certificate); 0 picks a free one. */
  tlsPort?: number;
  replicas?: number;
  /** Environment for every replica, over the runner's defaults (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /** Environment for single replicas by name, e.g. a different SESSION_SECRET for app-2. */
  replicaEnv?: Record<string, Record<string, string>>;
  /** Hard limit for each member to become ready. */
  readyTimeoutMs?: number;
  /** Throwaway Postgres (fsync off): for tests and benchmarks. */
  fastPostgres?: boolean;
  /** Extra Postgres settings, e.g. `{ shared_preload_libraries: 'pg_stat_statements' }`. */
  postgresSettings?: Record<string, string>;
  /**
   * A Node script each replica runs instead of dist/main.js, with the same environment: lets the
   * benchmark put other apps behind the same nginx. It must answer GET /health/ready with 200.
   */
  replicaScript?: string;
  /**
   * Profiles with a peer channel: relay the links between replicas through this process, so that
   * `partition` can cut them (default). The benchmark turns it off: its event loop carries the load.
   */
  peerRelays?: boolean;
  /**
   * Niceness (0–19) every server of the cluster runs at: the benchmark's servers yield a core to
   * its load generator, which stands for clients on other machines. Anyone may raise it.
   */
  nice?: number;
  /**
   * Where the members talk: `loopback` (default), or `netns`, the network mode: every server in
   * a network namespace of its own on a private bridge, with real addresses, a delay on every
   * link and the faults of Cluster.faults (root only; cluster/network/).
   */
  network?: 'loopback' | 'netns';
  /**
   * The network mode's delay of every packet a member sends to another; default
   * LINK_DELAY_DEFAULT (one data centre), { ms: 0, jitterMs: 0 } for none.
   */
  linkDelay?: LinkDelay;
  onProgress?: (line: string) => void;
}
