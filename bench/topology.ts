/**
 * What the benchmark runs: every profile of the table (cluster/profiles.ts) and the peers, each as
 * the same topology (Postgres, the servers its session backend needs, three replicas, the same
 * nginx config) started through the native runner on free ports in a temp dir.
 */
import type { LinkDelay } from '../cluster/network/delay.js';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeLeftoverNetwork, startCluster, type Cluster } from '../cluster/cluster.js';
import { abandoned, ledgerOf } from '../cluster/work-dir.js';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { profileNames, profileOf, type ProfileName } from '../cluster/profiles.js';
import type { TopologyName } from './results.js';
import { profileWhere } from './traits.js';

export interface TopologySpec {
  name: TopologyName;
  kind: 'profile' | 'peer';
  /** The runner's profile: nginx upstream policy and services (a peer borrows one). */
  profile: ProfileName;
  /** The peer's replica script (compiled next to this file); undefined runs our app. */
  script?: string;
  env?: Record<string, string>;
  /** Whether clients log in before the load (the bare peer has no sessions). */
  login: boolean;
  /** The code that handles sessions, relative to the project (for the complexity column). */
  sessionCode: string[];
  store: string;
  what: string;
}

const peerScript = (file: string) => fileURLToPath(new URL(`./peers/${file}`, import.meta.url));

/**
 * A topology's clients log in once, at its start, and are then measured for many minutes, idle
 * between some measurements: with the default 30 min idle timeout a long row (faults, scaling)
 * could outlive its sessions. Idle timeouts cost nothing per request: three hours.
 */
export const BENCH_SESSION_IDLE_SECONDS = 3 * 60 * 60;

/**
 * Every server of a measured cluster (nginx, the replicas, the stores) runs at this niceness;
 * the load generator, this process, at 0. The generator stands for clients on other machines:
 * when it waits for a core behind the servers, its requests go out late and its clocks read
 * late, which is the generator measuring itself. All servers share the one niceness, so their
 * shares of the cores among themselves are as at 0. Any user may raise a niceness (no root).
 */
export const SERVER_NICENESS = 10;
const BENCH_SESSIONS = { SESSION_IDLE_TIMEOUT: String(BENCH_SESSION_IDLE_SECONDS) };

/** Lets the benchmark read a replica's heap and CPU profile (see replica-probe.ts). */
function probeEnv(workDir: string): Record<string, string> {
  const probe = fileURLToPath(new URL('./replica-probe.js', import.meta.url));
  return { NODE_OPTIONS: `--expose-gc --import=${probe}`, BENCH_PROBE_DIR: workDir };
}

const BACKENDS_DIR = 'src/session/backends';
/** Where a backend's own code lives: the backends, the peer channel, the sealed cookie. */
const SESSION_CODE_DIRS = [`${BACKENDS_DIR}/`, 'src/replication/', 'src/session/sealed/'];

/** Shared by every backend (the record's type, the table of backends): not one backend's code. */
const COMMON = new Set([`${BACKENDS_DIR}/backend.ts`, `${BACKENDS_DIR}/index.ts`]);

/**
 * The session code a backend uses beyond its record: what `files` import from
 * src/session/backends/, src/replication/ and src/session/sealed/, directly or through each other (so `redis-ha`
 * counts the Redis store it shares with `redis`, and `replicated` and `backup` what they share
 * and not each other's manager).
 */
export function sessionImports(
  files: readonly string[],
  read: (file: string) => string = (file) => readFileSync(join(PROJECT_ROOT, file), 'utf8'),
): string[] {
  const seen = new Set<string>(files);
  const queue = [...files];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const m of read(file).matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      const target = posix.join(posix.dirname(file), `${m[1] ?? ''}.ts`);
      const inScope = SESSION_CODE_DIRS.some((dir) => target.startsWith(dir));
      if (!inScope || COMMON.has(target) || seen.has(target)) continue;
      seen.add(target);
      queue.push(target);
    }
  }
  return [...seen].filter((f) => !files.includes(f)).sort();
}

function profileTopology(name: ProfileName): TopologySpec {
  const row = profileOf(name);
  return {
    name,
    kind: 'profile',
    profile: name,
    sessionCode: ((record) => [record, ...sessionImports([record])])(
      `${BACKENDS_DIR}/${row.sessions}.backend.ts`,
    ),
    login: true,
    store: row.sessions,
    what: row.shows,
  };
}

/**
 * The plain-Express peer (peers/express-app.ts) on a store library: connect-redis on the redis
 * profile's Redis, or connect-pg-simple on the postgres profile's Postgres; `touch` as the
 * library's default (a write per read) or off.
 */
function expressPeer(
  name: string,
  store: 'redis' | 'postgres',
  touch: boolean,
  what: string,
): TopologySpec {
  return {
    name,
    kind: 'peer',
    // The row whose store is that one server, routed round-robin as the peer is.
    profile: profileWhere(
      (t) => t.storeServices.join() === store && !t.inCookie && t.routing === 'round-robin',
      `round-robin on a single ${store} server`,
    ),
    script: peerScript('express-app.js'),
    env: { PEER_NAME: name, PEER_STORE: store, PEER_TOUCH: touch ? 'on' : 'off' },
    sessionCode: ['bench/peers/express-app.ts', 'bench/peers/peer-store.ts'],
    login: true,
    store,
    what,
  };
}

/** Apps other than ours behind the same nginx, each on the topology of the profile it borrows. */
const peers: Record<string, TopologySpec> = {
  bare: {
    name: 'bare',
    kind: 'peer',
    // Nginx, three replicas and Postgres, nothing else: the first row without a store server.
    profile: profileWhere(
      (t) =>
        t.storeServices.length === 0 &&
        !t.peerChannel &&
        !t.inCookie &&
        t.routing === 'round-robin',
      'round-robin without store servers or peers',
    ),
    script: peerScript('bare.js'),
    sessionCode: ['bench/peers/bare.ts'],
    login: false,
    store: 'none',
    what: "bare node:http answering whoami-like JSON, no session: this machine's ceiling",
  },
  express: expressPeer(
    'express',
    'redis',
    true,
    'plain Express 5 + express-session + connect-redis + passport, connect-redis defaults (GET + EXPIRE per read)',
  ),
  'express-notouch': expressPeer(
    'express-notouch',
    'redis',
    false,
    'the same Express peer with connect-redis `disableTouch` (one GET per read, like ours)',
  ),
  'express-pg': expressPeer(
    'express-pg',
    'postgres',
    true,
    'the same Express peer on connect-pg-simple in the same Postgres, its defaults (SELECT + UPDATE of the expiry per read)',
  ),
  'express-pg-notouch': expressPeer(
    'express-pg-notouch',
    'postgres',
    false,
    'the same connect-pg-simple peer with `disableTouch` (one SELECT per read, like ours)',
  ),
};

export const topologySpecs: Record<TopologyName, TopologySpec> = {
  ...Object.fromEntries(profileNames.map((name) => [name, profileTopology(name)])),
  ...peers,
};

export const profileTopologies: TopologyName[] = [...profileNames];
export const peerTopologies: TopologyName[] = Object.keys(peers);

export interface RunningTopology {
  spec: TopologySpec;
  cluster: Cluster;
  /** As the app's role (what the replicas use). */
  postgresUrl: string;
  /** As the superuser, in the app's database (pg_stat_statements). */
  superuserUrl: string;
  /**
   * A failed reply as the bench prints it, followed by what the replicas logged for its request
   * id (a 503's log line names the driver's reason: refused, timed out, a full pool).
   */
  explain(failure: string | undefined): Promise<string>;
  stop(): Promise<void>;
}

/** The log lines under `logDir` that mention the request id quoted in `failure`. */
export async function explainFailure(logDir: string, failure: string | undefined): Promise<string> {
  const text = failure ?? 'no reply';
  const id = /"requestId":"([\w-]+)"/.exec(text)?.[1];
  if (!id) return text;
  const files = await readdir(logDir).catch(() => [] as string[]);
  const lines: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.log'))) {
    const log = await readFile(join(logDir, file), 'utf8').catch(() => '');
    for (const line of log.split('\n')) if (line.includes(id)) lines.push(`${file}: ${line}`);
  }
  return lines.length ? `${text}\n    logged: ${lines.join('\n    logged: ')}` : text;
}

const WORK_DIR_PREFIX = 'scaled-login-bench-';

/**
 * Every topology runs in a work dir of its own that no later run opens again, so a bench killed
 * outright (SIGKILL, a closed pipe) leaves its servers running there with nobody to sweep them.
 * Before a run: stop what the ledgers of such abandoned dirs hold and remove the dirs. A dir
 * whose runner still lives (another bench) is left alone. Returns the dirs swept.
 */
export async function sweepAbandonedWorkDirs(parent = tmpdir()): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const swept: string[] = [];
  for (const name of names.filter((n) => n.startsWith(WORK_DIR_PREFIX))) {
    const dir = join(parent, name);
    if (!(await abandoned(dir))) continue;
    await ledgerOf(dir).sweep();
    await removeLeftoverNetwork(dir);
    await rm(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

/** Starts one topology; `appEnv` goes to every replica over the runner's defaults. */
export async function startTopology(
  spec: TopologySpec,
  appEnv: Record<string, string>,
  onProgress: (line: string) => void,
  o: {
    replicas?: number;
    /** Peer links through the runner's relays, so that they can be cut (the partition fault). */
    peerRelays?: boolean;
    /** The runner's network mode (the network faults): every member in a namespace of its own. */
    network?: 'netns';
    /** The network mode's delay on every link (its default otherwise). */
    linkDelay?: LinkDelay;
  } = {},
): Promise<RunningTopology> {
  const workDir = await mkdtemp(join(tmpdir(), `${WORK_DIR_PREFIX}${spec.name}-`));
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      profile: spec.profile,
      workDir,
      // Postgres as a user runs it: fsync, synchronous_commit and full_page_writes on (its
      // defaults). A session store on a disk database is what the postgres row shows.
      fastPostgres: false,
      // Counts statements per role: how we know the app ran none for a read.
      postgresSettings: { shared_preload_libraries: 'pg_stat_statements' },
      replicaScript: spec.script,
      // Replicas that replicate talk directly: a relay here would sit in the load generator.
      peerRelays: o.peerRelays ?? false,
      nice: SERVER_NICENESS,
      ...(o.replicas ? { replicas: o.replicas } : {}),
      ...(o.network ? { network: o.network } : {}),
      ...(o.linkDelay ? { linkDelay: o.linkDelay } : {}),
      env: { ...spec.env, ...probeEnv(workDir), ...BENCH_SESSIONS, ...appEnv },
      onProgress,
    });
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const pgPort = cluster.status().find((m) => m.kind === 'postgres')?.port;
  if (pgPort === undefined) {
    await cluster.stop();
    await rm(workDir, { recursive: true, force: true });
    throw new Error('no Postgres in the cluster: every profile runs one (the users table)');
  }
  return {
    spec,
    cluster,
    postgresUrl: `postgres://app:app@127.0.0.1:${pgPort}/app`,
    superuserUrl: `postgres://postgres@127.0.0.1:${pgPort}/app`,
    explain: (failure) => explainFailure(join(workDir, 'logs'), failure),
    async stop() {
      await cluster.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
