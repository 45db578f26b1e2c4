import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManagedProcess, runToCompletion } from './managed-process.js';
import { FAIL_TIMEOUT_S, nginxBinary, renderNginxConfig, testNginxConfig } from './nginx.js';
import { PROJECT_ROOT } from './paths.js';
import { errorMessage, sleep } from './poll.js';
import { freePort, waitForPort } from './ports.js';
import { startPostgres } from './postgres.js';
import { profiles, replicaNames, type Profile, type ProfileName } from './profiles.js';
import { startRedis, type RedisServer } from './redis.js';
import type { ServerProcess } from './server-process.js';
import { ensureSelfSignedCert, type CertFiles } from './tls.js';

export interface ClusterOptions {
  profile: ProfileName;
  /** Holds everything the cluster writes: data, logs, rendered configs. */
  workDir: string;
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
  onProgress?: (line: string) => void;
}

export type MemberKind = 'postgres' | 'redis' | 'replica' | 'nginx';

export interface MemberStatus {
  name: string;
  kind: MemberKind;
  port: number;
  pid: number | null;
  running: boolean;
  log: string;
}

/** One process of the topology that can be killed (crash), stopped (SIGTERM) and started again. */
interface Member {
  readonly name: string;
  readonly kind: MemberKind;
  readonly port: number;
  readonly pid: number | null;
  readonly running: boolean;
  readonly log: string;
  kill(): Promise<void>;
  stop(): Promise<void>;
  restart(env?: Record<string, string>): Promise<void>;
}

export interface Cluster {
  readonly profile: Profile;
  /** http://127.0.0.1:<port>, through nginx. */
  readonly url: string;
  readonly port: number;
  /** https://127.0.0.1:<tlsPort>, through nginx, with a self-signed certificate. */
  readonly httpsUrl: string;
  /** The certificate nginx serves (PEM), for clients that want to verify it. */
  readonly certFile: string;
  readonly workDir: string;
  readonly replicas: readonly string[];
  /** The URL of one replica, bypassing nginx. */
  replicaUrl(name: string): string;
  /** SIGKILL, like a crash. */
  kill(member: string): Promise<void>;
  /** Graceful: SIGTERM, in-flight requests finish. */
  stopMember(member: string): Promise<void>;
  /**
   * Starts a member again on its port and waits until it is ready. For a replica, `env` is
   * merged into its environment first (e.g. a new SESSION_SECRET list while rotating secrets).
   */
  restart(member: string, env?: Record<string, string>): Promise<void>;
  /**
   * Restarts every replica in turn (SIGTERM: drain, then start), waiting between replicas until
   * nginx takes the restarted one back, so that some replica always serves. `env` as in restart.
   */
  rollingRestart(env?: Record<string, string>): Promise<void>;
  status(): MemberStatus[];
  /** Stops everything, in reverse order of start. Safe to call twice. */
  stop(): Promise<void>;
}

const node = process.execPath;
const distFile = (...parts: string[]) => join(PROJECT_ROOT, 'dist', ...parts);

/** Starts the whole topology for a profile and resolves when nginx serves a ready replica. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const profile: Profile = profiles[options.profile];
  const progress = options.onProgress ?? (() => undefined);
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const workDir = options.workDir;
  const logs = join(workDir, 'logs');
  await mkdir(logs, { recursive: true });
  // Postgres runs as its own user when we are root and must be able to reach its data dir.
  await chmod(workDir, 0o711);

  const started: Member[] = [];
  const stopAll = async () => {
    for (const m of [...started].reverse()) await m.stop().catch(() => undefined);
  };
  const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    progress(`${what} …`);
    const result = await work();
    progress(`${what}: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  };

  try {
    const postgres = await timed('postgres', async () =>
      startPostgres({
        dir: join(workDir, 'postgres'),
        port: await freePort(),
        fast: options.fastPostgres,
        settings: options.postgresSettings,
        readyTimeoutMs,
      }),
    );
    started.push(serverMember('postgres', 'postgres', postgres, join(workDir, 'postgres')));

    let redis: RedisServer | undefined;
    if (profile.services.includes('redis')) {
      redis = await timed('redis', async () =>
        startRedis({
          dir: join(workDir, 'redis'),
          port: await freePort(),
          appendOnly: true,
          readyTimeoutMs,
        }),
      );
      started.push(serverMember('redis', 'redis', redis, join(workDir, 'redis')));
    }

    await timed('migrations', () =>
      runToCompletion(
        {
          name: 'migrate',
          command: node,
          args: [distFile('database', 'migrate.js')],
          env: { DATABASE_URL: postgres.url, SESSION_SECRET: 'x'.repeat(32) },
          logFile: join(logs, 'migrate.log'),
          cwd: PROJECT_ROOT,
        },
        readyTimeoutMs,
      ),
    );

    const secret = options.env?.SESSION_SECRET ?? (await sharedSecret(workDir));
    const names = replicaNames(options.replicas ?? 3);
    const replicas: ReplicaMember[] = [];
    for (const name of names) {
      const replica = new ReplicaMember(
        name,
        options.replicaScript ?? distFile('main.js'),
        await freePort(),
        join(logs, `${name}.log`),
        readyTimeoutMs,
        {
          NODE_ENV: 'production',
          HOST: '127.0.0.1',
          REPLICA_NAME: name,
          PROFILE: profile.name,
          DATABASE_URL: postgres.url,
          SESSION_STORE: profile.store,
          ...(redis ? { REDIS_URL: redis.url } : {}),
          // One secret for all: a cookie signed by one replica must verify on the others.
          SESSION_SECRET: secret,
          // Only nginx (which connects from 127.0.0.1) may set X-Forwarded-*: a client that
          // reaches a replica directly from another address can't claim to be someone else.
          TRUST_PROXY: '127.0.0.1',
          ...options.env,
          ...options.replicaEnv?.[name],
        },
      );
      replicas.push(replica);
      started.push(replica); // before it starts: a failed start must still stop the others
    }
    await timed(`replicas ${names.join(', ')}`, () => Promise.all(replicas.map((r) => r.start())));

    const port = options.port || (await freePort());
    const tlsPort = options.tlsPort || (await freePort());
    const cert = await ensureSelfSignedCert(join(workDir, 'tls'));
    const nginx = await timed(`nginx on 127.0.0.1:${port} (https :${tlsPort})`, async () => {
      const member = new NginxMember(port, join(workDir, 'nginx'), readyTimeoutMs);
      await member.configure(profile, replicas, { ...cert, listen: tlsPort });
      await member.restart();
      return member;
    });
    started.push(nginx);

    const members = new Map(started.map((m) => [m.name, m]));
    const find = (name: string): Member => {
      const m = members.get(name);
      if (!m) throw new Error(`no member "${name}"; members: ${[...members.keys()].join(', ')}`);
      return m;
    };
    let stopping: Promise<void> | undefined;
    return {
      profile,
      url: `http://127.0.0.1:${port}`,
      port,
      httpsUrl: `https://127.0.0.1:${tlsPort}`,
      certFile: cert.cert,
      workDir,
      replicas: names,
      replicaUrl: (name) => `http://127.0.0.1:${find(name).port}`,
      kill: (name) => find(name).kill(),
      stopMember: (name) => find(name).stop(),
      restart: (name, env) => find(name).restart(env),
      async rollingRestart(env) {
        for (const r of replicas) {
          progress(`rolling restart: ${r.name} …`);
          await r.restart(env);
          await sleep(FAIL_TIMEOUT_S * 1000 + 500);
        }
      },
      status: () =>
        started.map((m) => ({
          name: m.name,
          kind: m.kind,
          port: m.port,
          pid: m.pid,
          running: m.running,
          log: m.log,
        })),
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    progress(`start failed, stopping what was started: ${errorMessage(error).split('\n')[0]}`);
    await stopAll();
    throw error;
  }
}

/**
 * The runner's default SESSION_SECRET: random, kept in the work dir so sessions stay valid when
 * the cluster is started again, and the same for every replica (different secrets per replica
 * are the "logged in, then silently logged out" failure).
 */
async function sharedSecret(workDir: string): Promise<string> {
  const file = join(workDir, 'session-secret');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // first run: create it
  }
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, secret + '\n', { mode: 0o600 });
  return secret;
}

function serverMember(name: string, kind: MemberKind, server: ServerProcess, dir: string): Member {
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
    log: dir,
    kill: () => server.kill(),
    stop: () => server.stop(),
    restart: () => server.restart(),
  };
}

/** One app replica: `node dist/main.js` (or `replicaScript`), ready when /health/ready answers 200. */
class ReplicaMember implements Member {
  readonly kind = 'replica';
  private process: ManagedProcess | undefined;

  constructor(
    readonly name: string,
    private readonly script: string,
    readonly port: number,
    readonly log: string,
    private readonly readyTimeoutMs: number,
    private readonly env: Record<string, string>,
  ) {}

  get pid() {
    return this.process?.running ? this.process.pid : null;
  }
  get running() {
    return !!this.process?.running;
  }

  async start(): Promise<void> {
    const proc = await ManagedProcess.start({
      name: this.name,
      command: node,
      args: [this.script],
      env: { ...this.env, PORT: String(this.port) },
      logFile: this.log,
      cwd: PROJECT_ROOT,
    });
    this.process = proc;
    await proc.waitUntilReady(() => isReady(this.port), {
      timeoutMs: this.readyTimeoutMs,
      what: 'GET /health/ready answers 200',
    });
  }

  async kill(): Promise<void> {
    await this.process?.kill();
  }
  async stop(): Promise<void> {
    // SIGTERM: Nest closes the server and lets in-flight requests finish.
    await this.process?.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
  }
  async restart(env?: Record<string, string>): Promise<void> {
    await this.stop();
    Object.assign(this.env, env);
    await this.start();
  }
}

async function isReady(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    signal: AbortSignal.timeout(2000),
  });
  await res.body?.cancel();
  return res.status === 200;
}

class NginxMember implements Member {
  readonly name = 'nginx';
  readonly kind = 'nginx';
  private process: ManagedProcess | undefined;
  private conf = '';

  constructor(
    readonly port: number,
    private readonly prefix: string,
    private readonly readyTimeoutMs: number,
  ) {}

  get log() {
    return join(this.prefix, 'logs', 'error.log');
  }
  get pid() {
    return this.process?.running ? this.process.pid : null;
  }
  get running() {
    return !!this.process?.running;
  }

  async configure(
    profile: Profile,
    replicas: ReplicaMember[],
    tls: CertFiles & { listen: number },
  ): Promise<void> {
    this.conf = await renderNginxConfig({
      prefix: this.prefix,
      listen: this.port,
      tls,
      policy: profile.upstream,
      servers: replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
    });
    // Worker processes run as "nobody" when we are root: they need to reach their temp dirs.
    await chmod(this.prefix, 0o755);
    await chmod(join(this.prefix, 'temp'), 0o777);
    await testNginxConfig(this.prefix, this.conf);
  }

  async kill(): Promise<void> {
    await this.process?.kill();
  }
  async stop(): Promise<void> {
    // SIGQUIT: graceful shutdown (SIGTERM is nginx's "fast" one).
    await this.process?.stop({ signal: 'SIGQUIT', timeoutMs: 10_000 });
  }
  async restart(): Promise<void> {
    await this.stop();
    const proc = await ManagedProcess.start({
      name: 'nginx',
      command: nginxBinary(),
      args: ['-p', this.prefix, '-c', this.conf],
      logFile: join(this.prefix, 'logs', 'stderr.log'),
    });
    this.process = proc;
    await proc.waitUntilReady(
      () =>
        waitForPort('127.0.0.1', this.port, 1000).then(
          () => true,
          () => false,
        ),
      { timeoutMs: this.readyTimeoutMs, what: `listens on 127.0.0.1:${this.port}` },
    );
  }
}
