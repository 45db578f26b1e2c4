/**
 * Postgres, in every profile: users and profiles (and the postgres backend's sessions). Natively
 * the work dir holds the data dir, the socket dir and initdb's log, and the runner makes the app's
 * role and database; in a container the image's entrypoint does both (POSTGRES_USER, ...).
 */
import { access, chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { defined } from '../../src/common/defined.js';
import type { ProcessLedger } from '../process/ledger.js';
import { runToCompletion } from '../process/managed-process.js';
import { nativeProgram } from '../process/programs.js';
import {
  chownRecursive,
  isRoot,
  lookupSystemUser,
  userCanWrite,
  type SystemUser,
} from '../process/system-user.js';
import { backendOf } from '../profiles.js';
import { standalonePlace, startStandalone } from '../render/native.js';
import type { Place, ServerDescription } from './description.js';
import { observePostgresSessions } from './postgres-observer.js';
import type { RunningServer, ServicePlugin } from './service.js';

const PORT = 5432;
/** The app's role, password and database: a local demo instance, loopback or a private network. */
const APP = { user: 'app', password: 'app', database: 'app' };
/** The app role's password as the place keeps it (Kubernetes: a reference to its Secret). */
const passwordOf = (place: Place) => place.password?.('POSTGRES_PASSWORD') ?? APP.password;
/** The superuser: ours natively (initdb -U postgres), the image's POSTGRES_USER in a container. */
const superuserOf = (place: Place) => (place.kind === 'native' ? 'postgres' : APP.user);

export interface PostgresOptions {
  /** fsync and friends off: faster, but a crash can corrupt the data. Throwaway test data only. */
  fast?: boolean;
  /** Extra server settings (`-c key=value`), e.g. shared_preload_libraries for the benchmark. */
  settings?: Record<string, string>;
}

export async function describePostgres(
  place: Place,
  o: PostgresOptions = {},
): Promise<ServerDescription> {
  const port = await place.port('postgres', PORT, { keep: true });
  const base = place.dir('postgres', '/var/lib/postgresql/data');
  const native = place.kind === 'native';
  // A subdir: natively the socket dir sits beside it; on Kubernetes the server starts as its own
  // user, and initdb must make the data dir its own, which it cannot do to a volume's mount.
  const data = place.kind === 'compose' ? base : join(base, 'pgdata');
  const socket = native ? join(base, 'socket') : '/var/run/postgresql';
  const settings = {
    ...(o.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...o.settings,
  };
  return {
    name: 'postgres',
    service: 'postgres',
    kind: 'postgres',
    image: 'postgres:16-alpine',
    // The postmaster itself (not pg_ctl, which daemonizes), so its PID is ours to signal.
    command: [
      'postgres',
      ...['-D', data, '-p', String(port), '-h', place.bind, '-k', socket],
      ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    ],
    env: native
      ? undefined
      : {
          POSTGRES_USER: APP.user,
          POSTGRES_PASSWORD: passwordOf(place),
          POSTGRES_DB: APP.database,
          ...(place.kind === 'k8s' ? { PGDATA: data } : {}),
        },
    port,
    ready: {
      kind: 'postgres',
      port,
      user: superuserOf(place),
      database: 'postgres',
      dataDir: data,
    },
    // SIGTERM is "smart" shutdown, which waits for every client to disconnect: a connected app
    // pool would hold it until the SIGKILL. SIGINT ("fast") ends sessions and still checkpoints.
    stop: { signal: 'SIGINT', timeoutMs: 20_000 },
    // Not a bare SIGKILL: the postmaster's children would be orphaned. "Immediate shutdown"
    // (SIGQUIT) drops every connection at once and skips the checkpoint, so the next start
    // replays the WAL, as after a crash; the postmaster reaps its children before it exits.
    crash: { signal: 'SIGQUIT', timeoutMs: 5_000 },
    state: { dir: base, volume: 'postgres-data' },
    // Postgres refuses to run as root.
    user: 'postgres',
    prepare: native
      ? () => initialise(base, data, socket, o.fast ?? false, place.privateNetwork)
      : undefined,
    comment: 'Users and profiles, in every profile.',
  };
}

export interface PostgresServer extends RunningServer {
  /** postgres://app:app@127.0.0.1:<port>/app */
  readonly url: string;
  /** As the `postgres` superuser, for migrations and test set-up. */
  readonly superuserUrl: string;
  readonly dir: string;
}

/** Postgres on its own (tests): the plugin's description, started natively, with the app's role. */
export async function startPostgres(
  options: PostgresOptions & {
    dir: string;
    port: number;
    readyTimeoutMs?: number;
    ledger?: ProcessLedger;
  },
): Promise<PostgresServer> {
  const dir = resolve(options.dir);
  const place = standalonePlace(dir, options.port);
  const server = await startStandalone(await describePostgres(place, options), { ...options, dir });
  try {
    await ensureAppDatabase(postgresUrl(server.port, 'postgres', 'postgres'));
  } catch (error) {
    await server.stop();
    throw error;
  }
  // Its state dir is `dir` (described so): the handle says it as a plain string.
  return Object.assign(server, {
    url: postgresUrl(server.port, APP.database, APP.user, APP.password),
    superuserUrl: postgresUrl(server.port, 'postgres', 'postgres'),
  }) as PostgresServer;
}

/**
 * Before every native start: private dirs the server's user owns, a data dir (initdb, once), and
 * who may connect. Trust without passwords is fine for a throwaway local instance, because
 * nothing outside this machine can reach it: the socket dir is private and TCP is loopback only,
 * or, in the network mode, the cluster's own network (`trusted`), which only its members are on.
 */
async function initialise(
  base: string,
  data: string,
  socket: string,
  fast: boolean,
  trusted: string | undefined,
) {
  const owner = isRoot() ? await lookupSystemUser('postgres') : undefined;
  await prepareDirs(base, data, socket, owner);
  if (!(await exists(join(data, 'PG_VERSION')))) await initdb(base, data, fast, owner);
  // Written at every start: the network mode's range changes from run to run.
  const hba = join(data, 'pg_hba.conf');
  await writeFile(
    hba,
    [
      '# Written by cluster/services/postgres.ts: a local instance, loopback and private socket only.',
      'local all all trust',
      'host  all all 127.0.0.0/8 trust',
      ...(trusted ? [`host  all all ${trusted} trust`] : []),
      '',
    ].join('\n'),
  );
  if (owner) await chown(hba, owner.uid, owner.gid);
}

async function initdb(base: string, data: string, fast: boolean, owner: SystemUser | undefined) {
  await runToCompletion({
    name: 'initdb',
    command: await nativeProgram('initdb'),
    args: [
      ...['-D', data, '-U', 'postgres'],
      ...['--auth=trust', '--encoding=UTF8', '--locale=C'],
      ...(fast ? ['--no-sync'] : []),
    ],
    cwd: base,
    logFile: join(base, 'initdb.log'),
    ...(owner
      ? {
          uid: owner.uid,
          gid: owner.gid,
          env: { HOME: base, USER: owner.name, LOGNAME: owner.name },
        }
      : {}),
  });
}

async function prepareDirs(
  base: string,
  data: string,
  socket: string,
  owner: SystemUser | undefined,
): Promise<void> {
  await mkdir(base, { recursive: true });
  // 0700 from the start: Postgres refuses a data dir others can read.
  await mkdir(data, { recursive: true, mode: 0o700 });
  await mkdir(socket, { recursive: true, mode: 0o700 });
  if (!owner) return;
  // Running as root: the server runs as `postgres`, which must own its dirs and be able to
  // pass through the work dir and its parents.
  for (const path of [dirname(base), ...dirsToOpen(base)]) await allowSearch(path);
  await chownRecursive(data, owner);
  await chownRecursive(socket, owner);
  if (!(await userCanWrite(owner, data))) {
    throw new Error(
      `The ${owner.name} user (uid ${owner.uid}) cannot write to ${data}: ` +
        `every parent directory of ${base} must be searchable by it (o+x)`,
    );
  }
}

/**
 * The work dir, plus its parents up to the OS temp dir when it lies inside it: mkdtemp makes
 * private (0700) dirs there. Dirs elsewhere (a home dir, say) are the user's to open up.
 */
function dirsToOpen(dir: string): string[] {
  const temp = resolve(tmpdir());
  const start = resolve(dir);
  const dirs = [start];
  for (let parent = dirname(start); parent.startsWith(temp + sep); parent = dirname(parent)) {
    dirs.push(parent);
  }
  return dirs;
}

/** Adds o+x: others may pass through, not list. */
async function allowSearch(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o001) === 0) await chmod(path, (mode & 0o7777) | 0o001);
}

/** Creates the app's role and database, or resets the role's password: safe to run each start. */
async function ensureAppDatabase(superuserUrl: string): Promise<void> {
  const { user, password, database } = APP;
  const client = new Client({ connectionString: superuserUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    const verb = role.rowCount ? 'ALTER' : 'CREATE';
    // DDL takes no bind parameters, hence the escaping.
    await client.query(
      `${verb} ROLE ${escapeIdentifier(user)} LOGIN PASSWORD ${escapeLiteral(password)}`,
    );
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!db.rowCount) {
      await client.query(
        `CREATE DATABASE ${escapeIdentifier(database)} OWNER ${escapeIdentifier(user)}`,
      );
    }
  } finally {
    await client.end();
  }
}

/** A URL of the server on 127.0.0.1:`port`. */
function postgresUrl(port: number, database: string, user: string, password?: string): string {
  const credentials = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  return `postgres://${credentials}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export const postgresService: ServicePlugin = {
  name: 'postgres',

  async describe(place, ctx) {
    const server = await describePostgres(place, {
      fast: ctx.options.fastPostgres,
      settings: ctx.options.postgresSettings,
    });
    const { user, database } = APP;
    const password = passwordOf(place);
    return {
      units: [server],
      env: {
        DATABASE_URL: `postgres://${user}:${password}@${place.host('postgres')}:${server.port}/${database}`,
      },
    };
  },

  async started(servers, ctx) {
    const { port } = defined(servers.get('postgres'), 'the postgres server');
    await ensureAppDatabase(postgresUrl(port, 'postgres', 'postgres'));
    // Where the profile keeps its sessions here, the benchmark looks at them too.
    const holdsSessions = backendOf(ctx.profile).services.includes('postgres');
    return {
      observe: holdsSessions
        ? () => observePostgresSessions(postgresUrl(port, APP.database, 'postgres'))
        : undefined,
    };
  },
};
