/**
 * One profile of the committed docker-compose.yml, run for real by the compose stage
 * (scripts/test-compose): `docker compose` (v2) where it exists, `docker-compose` (v1) otherwise,
 * against the engine in DOCKER_HOST, on free loopback ports. It offers what the guarantee checks
 * use of a cluster (GuaranteeTarget): clients through the published port, and "direct" clients
 * that reach one replica from inside its own container (`docker exec`), since compose publishes
 * only nginx.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../cluster/paths.js';
import { freePort } from '../../cluster/process/ports.js';
import { backendOf, profileOf, type ProfileName } from '../../cluster/profiles.js';
import { isServiceOf } from '../../cluster/services/service.js';
import { replicaService } from '../../cluster/render/compose-place.js';
import { defined } from '../../src/common/defined.js';
import { address } from './cluster.js';
import { eventually } from './eventually.js';
import { REPLICAS, type GuaranteeTarget } from './guarantee-checks.js';
import { HttpClient, type RawRequest, type RawResponse } from './http-client.js';

const run = promisify(execFile);
/** Every stage run uses this project name: its containers, networks and volumes carry it. */
export const PROJECT = 'scaled-login-stage';
const UP_TIMEOUT_MS = 15 * 60_000; // the first `up --build` also builds the app image

/** A progress line on stderr (Jest does not buffer it), so a CI log shows where the stage is. */
export function progress(message: string): void {
  process.stderr.write(`[compose ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** `docker compose` when the v2 plugin answers, else `docker-compose` (v1); DOCKER_COMPOSE wins. */
async function composeCommand(): Promise<string[]> {
  if (process.env.DOCKER_COMPOSE) return process.env.DOCKER_COMPOSE.split(' ');
  try {
    await run('docker', ['compose', 'version']);
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** The state of one container, as `docker inspect` reports it. */
export interface ContainerState {
  service: string;
  image: string;
  status: string;
  exitCode: number;
  health: string | undefined;
}

/**
 * A client for one replica from inside its container: `node -e fetch(...)` via `docker exec`,
 * to 127.0.0.1:3000, with the cookies of the client it was made from.
 */
class ExecHttpClient extends HttpClient {
  constructor(private readonly container: string) {
    super('http://127.0.0.1:3000');
  }

  protected override async exchange(request: RawRequest): Promise<RawResponse> {
    const script = `const [method, url, headers, body] = JSON.parse(process.argv[1]);
      fetch(url, { method, headers, body, signal: AbortSignal.timeout(${request.timeoutMs}) }).then(
        async (r) => process.stdout.write(JSON.stringify({ status: r.status,
          headers: Object.fromEntries(r.headers), setCookie: r.headers.getSetCookie(),
          text: await r.text() })),
        (e) => { console.error(String(e)); process.exit(1); });`;
    const { method, url, headers, payload } = request;
    const args = JSON.stringify([method, url.href, headers, payload?.toString()]);
    const out = await docker('exec', this.container, 'node', '-e', script, args);
    return JSON.parse(out) as RawResponse;
  }
}

export class ComposeProfile implements GuaranteeTarget {
  readonly replicas = REPLICAS;
  /** Output of `up` (the build included), for the checks and for a failure's diagnosis. */
  upLog = '';
  /** When `up` began (Date.now()), for the per-profile time. */
  startedAt = 0;
  private compose: string[] = [];
  private envFile = '';
  private replicationSecret = '';
  private logDir = '';
  private httpPort = 0;
  private httpsPort = 0;

  constructor(readonly profile: ProfileName) {}

  /** docker-compose 1.x rather than the `docker compose` plugin. */
  get composeV1(): boolean {
    return this.compose[0] === 'docker-compose';
  }

  /** The program that runs compose: `docker` or `docker-compose`. */
  private get program(): string {
    return defined(this.compose[0], 'the compose command (up() chooses it)');
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** `up -d --build`, then waits until nginx answers /health/ready through the published port. */
  async up(): Promise<void> {
    this.startedAt = Date.now();
    this.compose = await composeCommand();
    this.logDir = await mkdtemp(join(tmpdir(), `scaled-login-compose-${this.profile}-`));
    // Only the compose file's own defaults: not a developer's .env next to it.
    this.envFile = join(this.logDir, 'empty.env');
    this.replicationSecret = randomBytes(32).toString('base64url');
    await writeFile(this.envFile, '');
    [this.httpPort, this.httpsPort] = [await freePort(), await freePort()];
    progress(
      `${this.profile}: ${this.compose.join(' ')} up -d --build (http ${this.httpPort}, https ${this.httpsPort}; log ${this.logDir})`,
    );
    this.upLog = await this.composeLogged('up', ['up', '-d', '--build'], UP_TIMEOUT_MS);
    progress(`${this.profile}: up; waiting for nginx to answer /health/ready`);
    const ready = await eventually(
      async () => (await this.client().get('/health/ready')).status === 200,
      60_000,
      500,
    );
    if (!ready) throw new Error(`${this.profile}: no 200 from ${this.url}/health/ready in 60 s`);
    progress(`${this.profile}: ready at ${this.url}`);
  }

  /** `down -v`: the profile's containers, its network and its volumes go. */
  async down(): Promise<void> {
    progress(`${this.profile}: down -v`);
    await this.composeLogged('down', ['down', '-v', '--remove-orphans'], 120_000);
  }

  /** Removes the log dir (after a clean `down`; a failure keeps it to look at). */
  async removeLogs(): Promise<void> {
    if (this.logDir) await rm(this.logDir, { recursive: true, force: true });
  }

  /** What of this project the engine still has: containers, networks, volumes (none after down). */
  async leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const found = await Promise.all(
      (['container', 'network', 'volume'] as const).map(async (kind) => {
        const flags = kind === 'container' ? ['ls', '-a'] : ['ls'];
        const ids = await docker(kind, ...flags, '-q', '--filter', label);
        return ids ? ids.split('\n').map((id) => `${kind} ${id}`) : [];
      }),
    );
    return found.flat();
  }

  /** Every container of the project (running or exited), by compose service. */
  async containers(): Promise<ContainerState[]> {
    const ids = (await this.composeRun(['ps', '-q'])).split('\n').filter(Boolean);
    if (!ids.length) return [];
    const format =
      '{{index .Config.Labels "com.docker.compose.service"}}|{{.Image}}|{{.State.Status}}|' +
      '{{.State.ExitCode}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}';
    const lines = (await docker('inspect', '-f', format, ...ids)).split('\n');
    return lines.map((line) => {
      const [service, image, status, exitCode, health] = line.split('|');
      const field = `a field of docker inspect's "${line}"`;
      return {
        service: defined(service, field),
        image: defined(image, field),
        status: defined(status, field),
        exitCode: Number(exitCode),
        health: health || undefined,
      };
    });
  }

  client(subnet?: number): HttpClient {
    return new HttpClient(this.url, address(subnet));
  }

  direct(replica: string, from?: HttpClient): HttpClient {
    const client = new ExecHttpClient(
      this.containerOf(replicaService(profileOf(this.profile), replica)),
    );
    for (const [k, v] of from?.cookies ?? []) client.cookies.set(k, v);
    return client;
  }

  /** `docker kill` (SIGKILL): a crash; the restart policy leaves a killed container down. */
  async kill(replica: string): Promise<void> {
    progress(`${this.profile}: docker kill ${replica}`);
    await docker('kill', this.containerOf(replicaService(profileOf(this.profile), replica)));
  }

  async rejoin(replica: string): Promise<void> {
    const service = replicaService(profileOf(this.profile), replica);
    await docker('start', this.containerOf(service));
    await this.waitHealthy(service);
  }

  /** The compose services of the profile's session store: named after their plugin (redis, memcached-1, ...). */
  storeMembers(): string[] {
    const plugins = backendOf(profileOf(this.profile)).services;
    return [...this.ids.keys()].filter((s) => plugins.some((p) => isServiceOf(p, s)));
  }

  async restart(service: string): Promise<void> {
    progress(`${this.profile}: compose restart ${service}`);
    await this.composeRun(['restart', service]);
    await this.waitHealthy(service);
  }

  /** The last lines of every container's log: what to look at when a check failed. */
  async logs(): Promise<string> {
    return this.composeRun(['logs', '--no-color', '--tail', '40']).catch((e: unknown) =>
      e instanceof Error ? e.message : String(e),
    );
  }

  private ids = new Map<string, string>();
  /** Container ids by service, read once after `up` (containerOf is synchronous for direct()). */
  async readContainerIds(): Promise<void> {
    const format = '{{.Id}}|{{index .Config.Labels "com.docker.compose.service"}}';
    const ids = (await this.composeRun(['ps', '-q'])).split('\n').filter(Boolean);
    for (const line of (await docker('inspect', '-f', format, ...ids)).split('\n')) {
      const [id, service] = line.split('|');
      const field = `a field of docker inspect's "${line}"`;
      this.ids.set(defined(service, field), defined(id, field));
    }
  }

  private containerOf(service: string): string {
    const id = this.ids.get(service);
    if (!id) throw new Error(`${this.profile}: no container for service ${service}`);
    return id;
  }

  private async waitHealthy(service: string): Promise<void> {
    const id = this.containerOf(service);
    const healthy = await eventually(
      async () => (await docker('inspect', '-f', '{{.State.Health.Status}}', id)) === 'healthy',
      60_000,
      500,
    );
    if (!healthy) throw new Error(`${this.profile}: ${service} not healthy within 60 s`);
  }

  private baseArgs(): string[] {
    return [
      ...this.compose.slice(1),
      '--project-name',
      PROJECT,
      '--file',
      join(PROJECT_ROOT, 'docker-compose.yml'),
      '--env-file',
      this.envFile,
      '--profile',
      this.profile,
    ];
  }

  private env(): NodeJS.ProcessEnv {
    const dropped = new Set([
      'SESSION_SECRET',
      'COMPOSE_PROFILES',
      'COMPOSE_FILE',
      'COMPOSE_PROJECT_NAME',
    ]);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !dropped.has(k)));
    return {
      ...env,
      HTTP_PORT: String(this.httpPort),
      HTTPS_PORT: String(this.httpsPort),
      PUBLISH_ADDRESS: '127.0.0.1',
      // What the file leaves to its user (replicated: no committed peer secret); one per run.
      REPLICATION_SECRET: this.replicationSecret,
    };
  }

  private async composeRun(args: string[]): Promise<string> {
    const { stdout } = await run(this.program, [...this.baseArgs(), ...args], {
      cwd: PROJECT_ROOT,
      env: this.env(),
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim();
  }

  /** A long compose command with its output in the log dir; its tail in the error if it fails. */
  private composeLogged(name: string, args: string[], timeoutMs: number): Promise<string> {
    const logFile = join(this.logDir, `${name}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(this.program, [...this.baseArgs(), ...args], {
      cwd: PROJECT_ROOT,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        log.end(() => {
          void readFile(logFile, 'utf8').then((text) => {
            if (code === 0) {
              resolve(text);
              return;
            }
            const tail = text.split('\n').slice(-40).join('\n');
            reject(
              new Error(
                `${this.compose.join(' ')} ${args.join(' ')}: ${signal ?? `exit ${String(code)}`}\n${tail}`,
              ),
            );
          }, reject);
        });
      });
    });
  }
}

/**
 * The profile's containers for the enclosing `describe`: up before its tests; after them a
 * `down -v` if a test has not done it (the last test does it, and checks nothing is left).
 */
export function useComposeProfile(profile: ProfileName): ComposeProfile {
  const stack = new ComposeProfile(profile);
  let failedUp = false;
  beforeAll(async () => {
    try {
      await stack.up();
      await stack.readContainerIds();
    } catch (error) {
      failedUp = true;
      process.stderr.write(`${await stack.logs()}\n`);
      throw error;
    }
  }, UP_TIMEOUT_MS + 90_000);
  afterAll(async () => {
    if (failedUp || (await stack.leftovers()).length) await stack.down();
  }, 150_000);
  return stack;
}
