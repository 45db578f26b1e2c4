import { access, chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { note } from '../compose-file.js';
import type { ProcessLedger } from '../process/ledger.js';
import { ManagedProcess, runToCompletion } from '../process/managed-process.js';
import { OwnedServer, type ServerProcess } from '../process/server-process.js';
import {
  chownRecursive,
  isRoot,
  lookupSystemUser,
  userCanWrite,
  type SystemUser,
} from '../process/system-user.js';
import { backendOf } from '../profiles.js';
import { observePostgresSessions } from './postgres-observer.js';
import { serverMember, type ServicePlugin } from './service.js';

export interface PostgresOptions {
  /** Work dir; holds pgdata/, the socket dir and the logs. Created if missing. */
  dir: string;
  port: number;
  host?: string;
  /** fsync and friends off: faster, but a crash can corrupt the data. Throwaway test data only. */
  fast?: boolean;
  /** The app's role, password and database, created if missing. */
  user?: string;
  password?: string;
  database?: string;
  /** Hard limit for start-up until a query succeeds. */
  readyTimeoutMs?: number;
  /** Extra server settings (`-c key=value`), e.g. shared_preload_libraries for the benchmark. */
  settings?: Record<string, string>;
  /** Where its PID is kept while it runs (a cluster's work dir). */
  ledger?: ProcessLedger;
}

export interface PostgresServer extends ServerProcess {
  /** postgres://app:app@127.0.0.1:<port>/app */
  readonly url: string;
  /** As the `postgres` superuser, for migrations and test set-up. */
  readonly superuserUrl: string;
  /** Fast shutdown: disconnects clients, checkpoints, exits. */
  stop(): Promise<void>;
  /**
   * A crash, as far as clients and data are concerned: "immediate shutdown" (SIGQUIT) drops
   * every connection at once and skips the checkpoint, so the next start replays the WAL.
   * SIGKILL follows if it takes over 5 s.
   */
  kill(): Promise<void>;
}

interface PostgresConfig extends Required<Omit<PostgresOptions, 'ledger'>> {
  ledger?: ProcessLedger;
  bin: (name: string) => string;
  /** Who runs the server: Postgres refuses to run as root. Undefined means "us". */
  owner: SystemUser | undefined;
}

const SUPERUSER = 'postgres';
// SIGTERM is "smart" shutdown, which waits for every client to disconnect: a connected app
// pool would hold it until the SIGKILL. SIGINT ("fast") ends sessions and still checkpoints.
const STOP_SIGNAL = 'SIGINT';
const STOP_TIMEOUT_MS = 20_000;

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const config: PostgresConfig = {
    dir: resolve(options.dir), // also the children's cwd: a relative path would resolve twice
    port: options.port,
    host: options.host ?? '127.0.0.1',
    fast: options.fast ?? false,
    user: options.user ?? 'app',
    password: options.password ?? 'app',
    database: options.database ?? 'app',
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    settings: options.settings ?? {},
    ledger: options.ledger,
    bin: await findPostgresBin(),
    owner: isRoot() ? await lookupSystemUser('postgres') : undefined,
  };
  await prepareDirs(config);
  if (!(await exists(join(dataDir(config), 'PG_VERSION')))) await initdb(config);
  const server = await launch(config);
  try {
    await ensureAppDatabase(config);
  } catch (error) {
    await server.stop({ timeoutMs: STOP_TIMEOUT_MS });
    throw error;
  }
  return new PostgresProcess(config, server);
}

class PostgresProcess extends OwnedServer<PostgresConfig> implements PostgresServer {
  readonly url: string;
  readonly superuserUrl: string;

  constructor(config: PostgresConfig, server: ManagedProcess) {
    super(config, server, launch);
    const { host, port, user, password, database } = config;
    this.url = postgresUrl(host, port, database, user, password);
    this.superuserUrl = postgresUrl(host, port, 'postgres', SUPERUSER);
  }

  async stop(): Promise<void> {
    await this.server.stop({ timeoutMs: STOP_TIMEOUT_MS });
  }

  async kill(): Promise<void> {
    // Not a bare SIGKILL: the postmaster's children would be orphaned (we'd kill them, but
    // where PID 1 reaps late or never they linger as zombies). With SIGQUIT the postmaster
    // ends and reaps its children itself before it exits.
    await this.server.stop({ signal: 'SIGQUIT', timeoutMs: 5_000 });
  }
}

const dataDir = (config: PostgresConfig): string => join(config.dir, 'pgdata');
const socketDir = (config: PostgresConfig): string => join(config.dir, 'socket');

/**
 * Debian keeps server binaries in /usr/lib/postgresql/<major>/bin, off PATH; take the newest.
 * Elsewhere (other distros, Homebrew) they are on PATH.
 */
async function findPostgresBin(): Promise<(name: string) => string> {
  const root = '/usr/lib/postgresql';
  const versions = await readdir(root).catch(() => [] as string[]);
  const newestFirst = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of newestFirst) {
    const bin = join(root, version, 'bin');
    if (await exists(join(bin, 'postgres'))) return (name) => join(bin, name);
  }
  return (name) => name;
}

async function prepareDirs(config: PostgresConfig): Promise<void> {
  await mkdir(config.dir, { recursive: true });
  // 0700 from the start: Postgres refuses a data dir others can read.
  await mkdir(dataDir(config), { recursive: true, mode: 0o700 });
  await mkdir(socketDir(config), { recursive: true, mode: 0o700 });
  const { owner } = config;
  if (!owner) return;
  // Running as root: the server runs as `postgres`, which must own its dirs and be able to
  // pass through the work dir and its parents.
  for (const path of dirsToOpen(config.dir)) await allowSearch(path);
  await chownRecursive(dataDir(config), owner);
  await chownRecursive(socketDir(config), owner);
  if (!(await userCanWrite(owner, dataDir(config)))) {
    throw new Error(
      `The ${owner.name} user (uid ${owner.uid}) cannot write to ${dataDir(config)}: ` +
        `every parent directory of ${config.dir} must be searchable by it (o+x)`,
    );
  }
}

/**
 * The work dir, plus its parents up to the OS temp dir when it lies inside it: mkdtemp makes
 * private (0700) dirs there. Dirs elsewhere (a home dir, say) are the user's to open up.
 */
function dirsToOpen(dir: string): string[] {
  const temp = resolve(tmpdir());
  const dirs = [resolve(dir)];
  for (let parent = dirname(dirs[0]); parent.startsWith(temp + sep); parent = dirname(parent)) {
    dirs.push(parent);
  }
  return dirs;
}

/** Adds o+x: others may pass through, not list. */
async function allowSearch(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o001) === 0) await chmod(path, (mode & 0o7777) | 0o001);
}

async function initdb(config: PostgresConfig): Promise<void> {
  await runToCompletion({
    name: 'initdb',
    command: config.bin('initdb'),
    args: [
      ...['-D', dataDir(config), '-U', SUPERUSER],
      ...['--auth=trust', '--encoding=UTF8', '--locale=C'],
      ...(config.fast ? ['--no-sync'] : []),
    ],
    cwd: config.dir,
    logFile: join(config.dir, 'initdb.log'),
    ledger: config.ledger,
    ...runAs(config),
  });
  // Trust without passwords is fine for a throwaway local instance, because nothing outside
  // this machine can reach it: the socket dir is private and TCP is loopback only.
  await writeFile(
    join(dataDir(config), 'pg_hba.conf'),
    [
      '# Written by cluster/postgres.ts: a local test instance, loopback and private socket only.',
      'local all all trust',
      'host  all all 127.0.0.0/8 trust',
      '',
    ].join('\n'),
  );
  if (config.owner) await chownRecursive(dataDir(config), config.owner);
}

/** Runs the postmaster itself (not pg_ctl, which daemonizes), so its PID is ours to signal. */
async function launch(config: PostgresConfig): Promise<ManagedProcess> {
  const settings = {
    ...(config.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...config.settings,
  };
  const server = await ManagedProcess.start({
    name: 'postgres',
    command: config.bin('postgres'),
    args: [
      ...['-D', dataDir(config), '-p', String(config.port)],
      ...['-h', config.host, '-k', socketDir(config)],
      ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    ],
    cwd: config.dir,
    logFile: join(config.dir, 'postgres.log'),
    stopSignal: STOP_SIGNAL,
    ledger: config.ledger,
    ...runAs(config),
  });
  const superuserUrl = postgresUrl(config.host, config.port, 'postgres', SUPERUSER);
  await server.waitUntilReady(() => servesDataDir(superuserUrl, dataDir(config)), {
    timeoutMs: config.readyTimeoutMs,
    intervalMs: 200,
    what: `answers queries on ${config.host}:${config.port} from ${dataDir(config)}`,
  });
  return server;
}

/**
 * True once a query succeeds on a server using `dataDir`: the data dir tells the server we just
 * spawned from another one that already held the port.
 */
async function servesDataDir(url: string, dataDir: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A refused connect also emits 'error'; without a listener it would be thrown globally.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    if (rows[0]?.data_directory === dataDir) return true;
    throw new Error(`the server on this port serves ${rows[0]?.data_directory}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the app's role and database, or resets the role's password: safe to run each start. */
async function ensureAppDatabase(config: PostgresConfig): Promise<void> {
  const { host, port, user, password, database } = config;
  const client = new Client({
    connectionString: postgresUrl(host, port, 'postgres', SUPERUSER),
    connectionTimeoutMillis: 5_000,
  });
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

function postgresUrl(
  host: string,
  port: number,
  database: string,
  user: string,
  password?: string,
): string {
  const credentials = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  return `postgres://${credentials}@${host}:${port}/${encodeURIComponent(database)}`;
}

function runAs(config: PostgresConfig): { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } {
  const { owner } = config;
  // HOME and USER of root would be wrong (and unreadable) for the postgres user.
  return owner
    ? {
        uid: owner.uid,
        gid: owner.gid,
        env: { HOME: config.dir, USER: owner.name, LOGNAME: owner.name },
      }
    : {};
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Postgres, in every profile: users and profiles (and the redis backend's session index). The
 * replicas get DATABASE_URL; the app plugin runs the migrations before any replica starts.
 */
export const postgresService: ServicePlugin = {
  name: 'postgres',

  async start(ctx) {
    // Postgres runs as its own user when we are root and must be able to pass the work dir.
    await chmod(ctx.workDir, 0o711);
    const dir = join(ctx.workDir, 'postgres');
    const server = await startPostgres({
      dir,
      port: await ctx.ports.take('postgres'),
      ledger: ctx.ledger,
      fast: ctx.options.fastPostgres,
      settings: ctx.options.postgresSettings,
      readyTimeoutMs: ctx.readyTimeoutMs,
    });
    // Where the profile keeps its sessions here, the benchmark looks at them too.
    const holdsSessions = backendOf(ctx.profile).services.includes('postgres');
    return {
      members: [serverMember('postgres', 'postgres', server, join(dir, 'postgres.log'))],
      env: { DATABASE_URL: server.url },
      observe: holdsSessions
        ? () => observePostgresSessions(postgresUrl(server.host, server.port, 'app', SUPERUSER))
        : undefined,
    };
  },

  compose(file) {
    file.service(
      'postgres',
      {
        image: 'postgres:16-alpine',
        restart: 'unless-stopped',
        environment: { POSTGRES_USER: 'app', POSTGRES_PASSWORD: 'app', POSTGRES_DB: 'app' },
        volumes: ['postgres-data:/var/lib/postgresql/data'],
        healthcheck: {
          test: note(
            "Over TCP: the image's first-start initialisation runs a temporary server on the Unix\n" +
              'socket only, so this stays false until the real server is up.',
            ['CMD', 'pg_isready', '-h', '127.0.0.1', '-U', 'app', '-d', 'app'],
          ),
          interval: '2s',
          timeout: '3s',
          retries: 30,
        },
      },
      'Users and profiles, in every profile.',
    );
    file.volume('postgres-data');
    // Healthy before any replica starts (the migration waits for it too); the postgres backend
    // keeps its sessions there.
    return { env: { DATABASE_URL: 'postgres://app:app@postgres:5432/app' }, waitFor: ['postgres'] };
  },
};
