/**
 * What the runner (cluster.ts), the compose generator and the benchmark know of a service plugin,
 * and of the members it starts: they only ever talk to plugins through these types.
 */
import type { NamespaceNetwork } from '../network/namespaces.js';
import type { ClusterOptions } from '../options.js';
import type { Profile } from '../profiles.js';
import type { DescribeContext, Described, Place } from './description.js';
import type { ProcessLedger } from '../process/ledger.js';
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

/** Where clients reach the cluster: nginx's listeners. */
export interface Entry {
  url: string;
  httpsUrl: string;
  port: number;
  /** The certificate nginx serves over https (PEM). */
  certFile: string;
}

/** What a plugin's servers offer the runner natively, once they are ready. */
export interface Started {
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
  /** A store that takes new shards while it serves (scale-store). */
  grow?: StoreGrowth;
}

/**
 * How a store takes new shards live: the cluster describes the plugin again with the new count
 * (Place.storeShards), starts the servers that are new, and hands them to `join`.
 */
export interface StoreGrowth {
  /** What one shard is, for messages: "node", "master (with 2 replicas)". */
  readonly shard: string;
  /** Shards now. */
  shards(): number;
  readonly max: number;
  /**
   * Makes the servers just started part of the store (Redis Cluster: add-node, then slots moved
   * to them live); `say` reports progress.
   */
  join(added: ReadonlyMap<string, RunningServer>, say: (line: string) => void): Promise<void>;
}

export interface PeerNetwork {
  /** Cuts every peer link from and to `replica` (its clients still reach it through nginx). */
  partition(replica: string): void;
  /** Restores every cut link. */
  heal(): void;
  readonly partitioned: string[];
  /** REPLICATION_* the runner gave `replica`. */
  envFor(replica: string): Record<string, string>;
  /** Replicas that join (scale-out): ports, links, and every replica's members file. */
  add(replicas: readonly string[]): Promise<void>;
  /** A replica that left (scale-in): its links closed, the others' members files without it. */
  remove(replica: string): Promise<void>;
}

/** Member names: a primary (or Cluster master) and the replicas one of which would replace it. */
export interface FailoverPair {
  primary: string;
  /** None under Redis Cluster after a failover, until the old master is back as a replica. */
  replicas: string[];
  /**
   * How long until a crash of `primary` would be failed over at once, when not now: Sentinel
   * starts no second failover of the same primary within twice its failover timeout.
   */
  againInMs?: number;
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
  /** The same, per server that holds a share (memcached nodes, Cluster masters): where keys are. */
  keysPerServer?: () => Promise<Record<string, number>>;
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

/** A server the native runner started from its description: a Member with its address. */
export interface RunningServer extends Member {
  readonly host: string;
  /** Its state dir, where it has one. */
  readonly dir?: string;
  /** What a restart waits for once the server is ready (Redis Cluster: every node agreeing). */
  afterRestart?: () => Promise<void>;
}

/** The native runner's place: loopback, and the work dir the cluster keeps its state in. */
export interface NativePlacement extends Place {
  readonly kind: 'native';
  readonly workDir: string;
  readonly logDir: string;
  /** Every process started goes on it. */
  readonly ledger: ProcessLedger;
  /** Niceness every server starts at (ClusterOptions.nice). */
  readonly nice?: number;
  /** Ports of stateful servers, kept across runs. */
  readonly ports: PortBook;
  /** The network mode's network (ClusterOptions.network 'netns'); undefined on loopback. */
  readonly network?: NamespaceNetwork;
  /** The links between replicas, once a plugin has asked for them (app.peers). */
  peerNetwork(): Promise<PeerNetwork | undefined>;
  /** The replicas from now on (scale): what the app and nginx plugins describe next. */
  setReplicas(names: readonly string[]): void;
  /** Replicas nginx keeps but sends nothing from now on (a rolling restart's drain). */
  setDraining(names: readonly string[]): void;
  /** A store's shards from now on (scale-store): what its plugin describes next. */
  setStoreShards(plugin: string, count: number): void;
  /** Keeps the shards set in the work dir, for the next start (once a scale-store succeeded). */
  saveStoreShards(): void;
}

/** What a plugin is given natively, besides its place. */
export interface StartContext {
  readonly profile: Profile;
  readonly options: ClusterOptions;
  readonly place: NativePlacement;
  readonly readyTimeoutMs: number;
  progress(line: string): void;
}

/**
 * A kind of server of the topology (Postgres, Redis, the app replicas, nginx, ...): it describes
 * its servers once (description.ts), and the renderers start them natively or write them into
 * docker-compose.yml. What only a running native cluster can do (look into a store, find who is
 * primary now) is in `started`.
 */
export interface ServicePlugin {
  /** Names it in a backend record's `services`. */
  readonly name: string;
  /** Its store takes new shards while it serves (its `started` offers `grow`). */
  readonly grows?: true;
  describe(place: Place, ctx: DescribeContext): Promise<Described>;
  /**
   * Natively, before its servers start: fixes what the last run left where ports moved (Redis
   * Cluster's nodes.conf). Compose's ports never move.
   */
  restore?(place: Place): Promise<void>;
  /** Natively, once its servers are ready: waits for the store as a whole, and what it offers. */
  started?(servers: ReadonlyMap<string, RunningServer>, ctx: StartContext): Promise<Started>;
}

/**
 * A plugin's servers in compose: its own name for one server, or `<plugin>-1`, `<plugin>-2`, ...
 * for several.
 */
export const isServiceOf = (plugin: string, service: string): boolean =>
  service === plugin ||
  (service.startsWith(`${plugin}-`) && /^\d+$/.test(service.slice(plugin.length + 1)));
