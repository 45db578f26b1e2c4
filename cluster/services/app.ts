/**
 * The app: one migration run, then N replicas of `node dist/main.js`, each ready when its
 * /health/ready answers 200. Every replica gets the environment the plugins before it handed on
 * (DATABASE_URL, REDIS_URL, ...), the profile's SESSION_STORE, what its routing needs of them
 * (ROUTE_COOKIE), and one shared SESSION_SECRET.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dependsOn, MERGE, note } from '../compose-file.js';
import { PROJECT_ROOT } from '../paths.js';
import type { ProcessLedger } from '../process/ledger.js';
import { ManagedProcess, runToCompletion } from '../process/managed-process.js';
import { freePort } from '../process/ports.js';
import { PeerLinks } from '../peer-links.js';
import { backendOf, replicaNames, routingOf, type Profile } from '../profiles.js';
import { composePeerEnv } from './peer-env.js';
import { postgresService } from './postgres.js';
import type { Member, ServicePlugin } from './service.js';

const node = process.execPath;
const distFile = (...parts: string[]) => join(PROJECT_ROOT, 'dist', ...parts);

/** The port every replica listens on inside its container (nginx reaches app-1:3000, ...). */
export const COMPOSE_APP_PORT = 3000;
/** A profile's replica service in compose; its network alias is the replica's own name. */
export const replicaService = (profile: Profile, replica: string) => `${profile.name}-${replica}`;

export const appService: ServicePlugin = {
  name: 'app',

  async start(ctx) {
    const { options } = ctx;
    await runToCompletion(
      {
        name: 'migrate',
        command: node,
        args: [distFile('database', 'migrate.js')],
        env: { DATABASE_URL: ctx.env.DATABASE_URL, SESSION_SECRET: 'x'.repeat(32) },
        logFile: join(ctx.logDir, 'migrate.log'),
        cwd: PROJECT_ROOT,
        ledger: ctx.ledger,
      },
      ctx.readyTimeoutMs,
    );
    ctx.progress('migrations applied');

    const secret = options.env?.SESSION_SECRET ?? (await sharedSecret(ctx.workDir));
    const names = replicaNames(options.replicas ?? 3);
    // Replicas that talk to each other get their peer ports and relays before any starts.
    const links = backendOf(ctx.profile).peerChannel
      ? await PeerLinks.open(names, options.peerRelays ?? true)
      : undefined;
    const replicas: ReplicaMember[] = [];
    for (const name of names) {
      replicas.push(
        new ReplicaMember(
          name,
          options.replicaScript ?? distFile('main.js'),
          await freePort(),
          join(ctx.logDir, `${name}.log`),
          ctx.readyTimeoutMs,
          {
            NODE_ENV: 'production',
            HOST: '127.0.0.1',
            REPLICA_NAME: name,
            PROFILE: ctx.profile.name,
            SESSION_STORE: ctx.profile.sessions,
            ...routingOf(ctx.profile).replicaEnv,
            ...links?.envFor(name),
            ...ctx.env,
            // One secret for all: a cookie signed by one replica must verify on the others.
            SESSION_SECRET: secret,
            // Only nginx (which connects from 127.0.0.1) may set X-Forwarded-*: a client that
            // reaches a replica directly from another address can't claim to be someone else.
            TRUST_PROXY: '127.0.0.1',
            ...options.env,
            ...options.replicaEnv?.[name],
          },
          ctx.ledger,
          links,
        ),
      );
    }
    // Every replica is a member before any starts: a failed start must still stop the others.
    const started = {
      members: replicas,
      upstreams: replicas.map((r) => r.address),
      peerNetwork: links,
    };
    try {
      await Promise.all(replicas.map((r) => r.start()));
    } catch (error) {
      await Promise.all(replicas.map((r) => r.stop()));
      throw error;
    }
    return started;
  },

  compose(file, ctx) {
    const image = file.fragment(
      'app-image',
      {
        image: 'scaled-login:local',
        // Only the migration builds the image (see below); everyone else uses what it built.
        pull_policy: 'never',
      },
      'The app image, for the replicas, the migration and the certificate.',
    );
    const env = file.fragment(
      'app-env',
      {
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: String(COMPOSE_APP_PORT),
        SESSION_SECRET: note(
          'DEMO ONLY. Every replica must share the secret, or a cookie signed by one replica is\n' +
            'rejected by the others. The default below is public: for anything real, set your own\n' +
            '(openssl rand -base64 48) in the environment or in an .env file next to this one.\n' +
            'Compose reads that .env for ${...} here: a copy of .env.example still holding its\n' +
            'sample secret makes the replicas refuse to start (production refuses the sample).',
          '${SESSION_SECRET:-demo-only-public-secret-for-docker-compose-not-for-real-use}',
        ),
        TRUST_PROXY: note(
          'nginx reaches the replicas over the compose network (a private address range).',
          'loopback, uniquelocal',
        ),
        ...ctx.sharedEnv,
      },
      'Environment of every app container (src/config/ validates it; .env.example documents it).',
    );
    const replica = file.fragment(
      'replica',
      {
        [MERGE]: image,
        restart: 'unless-stopped',
        healthcheck: {
          test: note(
            "Liveness, as the image's own HEALTHCHECK; spelled out so that depends_on can wait for it.",
            [
              'CMD',
              'node',
              '-e',
              `fetch('http://127.0.0.1:${COMPOSE_APP_PORT}/health/live', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
            ],
          ),
          interval: '5s',
          timeout: '3s',
          start_period: '30s',
          retries: 3,
        },
      },
      'An app replica; per profile it gets its profile, its session backend and what it waits for.',
    );

    file.service(
      'migrate',
      {
        [MERGE]: image,
        build: note(
          'The one service that builds the image: `up --build` builds it once, and every other\n' +
            'service that uses it starts after this one (pull_policy: never).',
          { context: '.', dockerfile: 'docker/Dockerfile' },
        ),
        command: ['node', 'dist/database/migrate.js'],
        environment: env,
        restart: 'no',
        depends_on: dependsOn({ [postgresService.name]: 'service_healthy' }),
      },
      'Applies pending migrations once, before any replica starts; exits 0 when the schema is current.',
    );

    for (const profile of ctx.profiles) {
      const { peerChannel } = backendOf(profile);
      // Each replica's own peer list (the other keys are the same for all: in the anchor).
      const peersOf = (name: string) =>
        peerChannel
          ? { REPLICATION_PEERS: composePeerEnv(name, ctx.replicas).REPLICATION_PEERS }
          : {};
      // The first replica holds the profile's environment (&<profile>-env), the others merge it.
      const profileEnv = file.inline(`${profile.name}-env`, {
        [MERGE]: env,
        PROFILE: profile.name,
        SESSION_STORE: profile.sessions,
        ...routingOf(profile).replicaEnv,
        ...ctx.env(profile),
        REPLICA_NAME: ctx.replicas[0],
        ...(peerChannel ? composePeerEnv(ctx.replicas[0], ctx.replicas) : {}),
      });
      ctx.replicas.forEach((name, i) => {
        const service = {
          [MERGE]: replica,
          profiles: [profile.name],
          environment:
            i === 0 ? profileEnv : { [MERGE]: profileEnv, REPLICA_NAME: name, ...peersOf(name) },
          depends_on: dependsOn({
            migrate: 'service_completed_successfully',
            ...Object.fromEntries(ctx.waitFor(profile).map((s) => [s, 'service_healthy'])),
          }),
          networks: { default: { aliases: [name] } },
        };
        file.service(replicaService(profile, name), service);
      });
    }
  },
};

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

/** One app replica: `node dist/main.js` (or `replicaScript`), ready when /health/ready answers 200. */
class ReplicaMember implements Member {
  readonly kind = 'replica';
  private process: ManagedProcess | undefined;
  /** The runner starts every replica with its own Node binary (process.execPath). */
  readonly runtime = `node ${process.version}`;

  constructor(
    readonly name: string,
    private readonly script: string,
    readonly port: number,
    readonly log: string,
    private readonly readyTimeoutMs: number,
    private readonly env: Record<string, string>,
    private readonly ledger: ProcessLedger,
    /** Profiles with a peer channel: the relays into this replica live while it does. */
    private readonly links?: PeerLinks,
  ) {}

  get address() {
    return { name: this.name, host: '127.0.0.1', port: this.port };
  }
  get pid() {
    return this.process?.running ? this.process.pid : null;
  }
  get running() {
    return !!this.process?.running;
  }

  async start(): Promise<void> {
    await this.links?.listenInto(this.name);
    const proc = await ManagedProcess.start({
      name: this.name,
      command: node,
      args: [this.script],
      env: { ...this.env, PORT: String(this.port) },
      logFile: this.log,
      cwd: PROJECT_ROOT,
      ledger: this.ledger,
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
    await this.links?.closeInto(this.name);
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
