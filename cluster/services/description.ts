/**
 * One description per server. A plugin says once what each of its servers runs (command and
 * arguments, environment), where it listens, how to tell it is ready, where it keeps its state,
 * what it waits for and how it stops; the renderers (cluster/render/) turn that into native
 * processes or compose services. What differs between those worlds (ports, host names, state
 * paths) comes from the Place a description is written for, never from a second description.
 */
import type { ClusterOptions } from '../options.js';
import type { Profile } from '../profiles.js';

/**
 * Where the servers run: the native runner's loopback, compose's network of containers, or a
 * Kubernetes namespace (rendered only: cluster/render/k8s.ts).
 */
export interface Place {
  readonly kind: 'native' | 'compose' | 'k8s';
  /** The address servers listen on: 127.0.0.1 natively, every interface in a container. */
  readonly bind: string;
  /**
   * Ports of servers that keep state may change between two native runs (a port taken meanwhile):
   * state that names ports (a replica's primary, Sentinel's monitor) is written anew at each start.
   */
  readonly portsMove: boolean;
  /**
   * The port `key` listens on: natively the last run's port while it is free (a stateful server)
   * or any free one; in compose `standard`, the server's usual port, in a container of its own.
   */
  port(key: string, standard: number, options?: { keep?: boolean; plus?: number }): Promise<number>;
  /** The port `key` had in the last run, where ports move (natively). */
  previousPort?(key: string): number | undefined;
  /**
   * The host name others reach `service` by: 127.0.0.1 natively, the service's name in compose,
   * its address on the cluster's own network in the network mode.
   */
  host(service: string): string;
  /**
   * Where the runner's own steps (a server's `prepare`) reach `service`, where that differs from
   * `host`: 127.0.0.1 in the network mode (through a forward). Absent: `host`.
   */
  runnerHost?(service: string): string;
  /**
   * The network mode's private range (10.213.n.0/24): only the cluster's members are on it, so
   * servers trust it as they trust loopback (Postgres' pg_hba, Redis' protected mode).
   */
  readonly privateNetwork?: string;
  /**
   * Where a tool needs an IP address (Redis' CLUSTER MEET takes no names): natively 127.0.0.1, in
   * compose a lookup of the container's address when the job runs (a shell expansion).
   */
  ip(service: string): string;
  /** A server's own state dir: under the work dir natively, its volume's mount in a container. */
  dir(key: string, standard: string): string;
  /**
   * A password a server and its clients share (POSTGRES_PASSWORD): where the place keeps it out
   * of the rendered files, a reference it resolves at run time; absent, the demo's own value.
   */
  password?(key: string): string;
  /** Whether servers here run as root (and must drop to a user themselves, e.g. memcached). */
  readonly root: boolean;
  /** Servers reach each other by name (containers get a new address when they restart). */
  readonly byName: boolean;
  /**
   * How many shards a store plugin runs (memcached nodes, Redis Cluster masters) where a
   * scale-store changed it, natively; undefined: the plugin's own number.
   */
  storeShards?(plugin: string): number | undefined;
  /** What the app replicas get here. */
  readonly app: AppPlace;
}

/** The app's side of a place: who the replicas are and what they share. */
export interface AppPlace {
  readonly replicas: readonly string[];
  /** Replicas nginx keeps in its list but sends nothing (a rolling restart's drain). */
  readonly draining?: readonly string[];
  /** What `node` runs: dist/main.js (relative to the project), or the benchmark's own script. */
  readonly script: string;
  /** The SESSION_SECRET every replica shares. */
  secret(): Promise<string>;
  /** Who may set X-Forwarded-* (nginx's address as a replica sees it). */
  readonly trustProxy: string;
  /** Settings for one replica over everything else (the runner's --env, a test's replicaEnv). */
  overrides(replica: string): Readonly<Record<string, string>>;
  /** The peer channel (profiles that replicate between replicas). */
  peers(): Promise<PeerPlace>;
}

export interface PeerPlace {
  /** REPLICATION_* of one replica. */
  envFor(replica: string): Record<string, string>;
  /** The network name every replica shares, where peers find each other by DNS (compose). */
  alias?: string;
  /** Natively: the relays into a replica listen while it runs. */
  opened?: (replica: string) => Promise<void>;
  closed?: (replica: string) => Promise<void>;
}

/** How to tell a server is ready. Each renderer knows each kind once. */
export type Probe =
  | { kind: 'redis'; port: number }
  | { kind: 'postgres'; port: number; user: string; database: string; dataDir: string }
  | { kind: 'memcached'; port: number }
  | { kind: 'http'; port: number; path: string }
  | { kind: 'tcp'; port: number };

/** A long-running server. */
export interface ServerDescription {
  /** Its name in the cluster's status table and API (kill, restart): 'redis-1', 'app-2'. */
  readonly name: string;
  /** Its name on the network (and as a compose service): 'redis-ha-1', 'app-2'. */
  readonly service: string;
  /** More names it answers to on the network: a name shared by every replica (DNS membership). */
  readonly aliases?: readonly string[];
  /** What it is: 'postgres', 'redis', 'sentinel', 'memcached', 'replica', 'nginx'. */
  readonly kind: string;
  /** One server per profile (the replicas and nginx), or one for every profile that uses it. */
  readonly perProfile?: boolean;
  /** The image that has its program (compose, Kubernetes). */
  readonly image: string;
  /** Program and arguments. The program is a name; natively the renderer finds its binary. */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly port: number;
  /** Ports published to the host (the entry): container port by host variable, in compose. */
  readonly publish?: ReadonlyArray<{ port: number; hostVariable: string; hostDefault: number }>;
  readonly ready: Probe;
  /** The signal for a clean stop and how long it may take before SIGKILL. */
  readonly stop: { signal: NodeJS.Signals; timeoutMs: number };
  /** What a crash is, where SIGKILL would leave a mess (Postgres: SIGQUIT). */
  readonly crash?: { signal: NodeJS.Signals; timeoutMs: number };
  /** Where it keeps state (kept across restarts): a volume in compose. */
  readonly state?: { dir: string; volume: string };
  /** Read-only files it reads: a volume or a project path, mounted at `at` (compose). */
  readonly mounts?: ReadonlyArray<{ from: string; at: string }>;
  /** A system user it runs as (Postgres refuses root): natively, when we are root. */
  readonly user?: string;
  /** Servers (ready) and jobs (finished) it starts after. */
  readonly after?: readonly string[];
  /**
   * Runs before every start of it (writes its config, follows a primary): natively in the
   * runner, in compose as a one-shot container from the app image that shares its state volume.
   */
  readonly prepare?: () => Promise<void>;
  /** Runs after every stop of it (natively: closes the peer relays into a replica). */
  readonly stopped?: () => Promise<void>;
  /** A line for the compose file: why it is there. */
  readonly comment?: string;
}

/** A command that runs to completion before the servers that need it (a migration). */
export interface JobDescription {
  /** Its name in logs, and as a compose service. */
  readonly service: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Skip it when a Redis command's reply on `service` contains `contains` (the cluster is formed). */
  readonly unless?: { service: string; port: number; redis: string[]; contains: string };
  readonly state?: { dir: string; volume: string };
  readonly after?: readonly string[];
  readonly comment?: string;
}

/** What a plugin describes for one profile in one place. */
export interface Described {
  /** In start order. A job runs where it stands in this list. */
  readonly units: ReadonlyArray<ServerDescription | JobDescription>;
  /** What every replica started after it gets, e.g. { REDIS_URL: 'redis://…' }. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface DescribeContext {
  readonly profile: Profile;
  /** What the plugins before it hand the replicas (DATABASE_URL, REDIS_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** What the plugins before it run, that replicas wait for: servers ready, jobs done. */
  readonly servers: readonly string[];
  /** What the runner was started with (natively; compose has only the defaults). */
  readonly options: Readonly<Partial<ClusterOptions>>;
}

export const isServer = (unit: ServerDescription | JobDescription): unit is ServerDescription =>
  'ready' in unit;
export const serversOf = (described: Described): ServerDescription[] =>
  described.units.filter(isServer);
