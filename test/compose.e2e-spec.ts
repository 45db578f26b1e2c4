// docker-compose.yml against the profile table (cluster/profiles.ts) and the nginx template
// variables (cluster/nginx.ts), so the compose file, the native runner and the tests can't drift
// apart. Needs Debian's docker-compose (installed by scripts/setup) but no Docker engine:
// `docker-compose config` validates and normalises the file without starting anything.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nginxTemplateVars } from '../cluster/nginx.js';
import {
  profileNames,
  profiles,
  replicaNames,
  upstreamDirective,
  type ProfileName,
} from '../cluster/profiles.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE = process.env.DOCKER_COMPOSE ?? 'docker-compose';
const REPLICAS = replicaNames(3);
const APP_PORT = 3000;
const NGINX_PORT = 8080;
const NGINX_TLS = { listen: 8443, cert: '/etc/nginx/tls/cert.pem', key: '/etc/nginx/tls/key.pem' };

/** The parts of a normalised service definition this spec reads. */
interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string[] | string;
  profiles?: string[];
  environment?: Record<string, string | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  networks?: Record<string, { aliases?: string[] } | null> | string[];
  ports?: ({ published?: number | string; target?: number | string } | string)[];
  volumes?: (string | { source?: string; target?: string; read_only?: boolean })[];
  healthcheck?: { test?: string[] | string };
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The error for a missing tool: this spec fails (never skips) without it. */
function missingTool(tool: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  return new Error(
    `${tool} could not be run (${code ?? String(error)}). This spec validates docker-compose.yml ` +
      `with Debian's docker-compose (no Docker engine needed); install it with scripts/setup ` +
      `(apt-get install docker-compose) or point DOCKER_COMPOSE at a docker-compose binary.`,
    { cause: error },
  );
}

/**
 * The Python that runs docker-compose has PyYAML (docker-compose parses YAML with it), so it can
 * turn the normalised YAML into JSON. Found from the script's shebang; plain python3 otherwise.
 */
async function yamlToJsonCommand(): Promise<string[]> {
  const fallback = ['python3'];
  let script: string;
  try {
    const { stdout } = await run('sh', ['-c', 'command -v "$1"', 'sh', COMPOSE]);
    script = stdout.trim();
  } catch {
    return fallback;
  }
  const head = await readFile(script)
    .then((b) => b.subarray(0, 200).toString('latin1'))
    .catch(() => '');
  const shebang = /^#!(.+)$/m.exec(head.split('\n')[0] ?? '')?.[1]?.trim();
  if (!shebang || !/python/.test(shebang)) return fallback;
  return shebang.split(/\s+/);
}

async function yamlToJson(yaml: string, python: string[]): Promise<unknown> {
  const program = 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)';
  const [command, ...args] = python;
  const child = execFile(command!, [...args, '-c', program], { maxBuffer: 16 * 1024 * 1024 });
  const output = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${python.join(' ')} could not convert YAML (exit ${code}): ${stderr}`)),
    );
  });
  child.stdin!.end(yaml);
  return JSON.parse(await output);
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(env).map(([k, v]) => [k, v ?? '']);
  return Object.fromEntries(entries) as Record<string, string>;
}

function dependenciesOf(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(
    Object.entries(deps).map(([name, d]) => [name, d?.condition ?? 'service_started']),
  );
}

function aliasesOf(service: Service): string[] {
  const networks = service.networks;
  if (!networks || Array.isArray(networks)) return [];
  return networks.default?.aliases ?? [];
}

/** Services compose starts for `--profile p`: those without profiles, and those listing p. */
function enabledServices(config: ComposeConfig, profile: string): string[] {
  return Object.entries(config.services)
    .filter(([, s]) => !s.profiles || s.profiles.length === 0 || s.profiles.includes(profile))
    .map(([name]) => name)
    .sort();
}

const normaliseSpace = (s: string) => s.trim().replace(/\s+/g, ' ');

describe('docker-compose.yml', () => {
  let envFileDir: string;
  let python: string[];
  const configs = new Map<ProfileName, ComposeConfig>();

  /** `docker-compose --profile p config`: exit 0 means the file is valid for that profile. */
  async function composeConfig(profile: ProfileName): Promise<string> {
    const env = { ...process.env };
    // Only the file's own defaults: no secret or profile selection from the caller's shell,
    // and (via --env-file) not a developer's .env next to the compose file.
    for (const key of ['SESSION_SECRET', 'COMPOSE_PROFILES', 'COMPOSE_FILE', 'COMPOSE_ENV_FILES'])
      delete env[key];
    const args = ['-f', 'docker-compose.yml', '--env-file', join(envFileDir, 'empty.env')];
    args.push('--profile', profile, 'config');
    try {
      const { stdout } = await run(COMPOSE, args, {
        cwd: ROOT,
        env,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool(COMPOSE, error);
      const { stderr } = error as { stderr?: string };
      throw new Error(`${COMPOSE} --profile ${profile} config failed:\n${stderr ?? error}`, {
        cause: error,
      });
    }
  }

  beforeAll(async () => {
    try {
      await run(COMPOSE, ['version']);
    } catch (error) {
      throw missingTool(COMPOSE, error);
    }
    envFileDir = await mkdtemp(join(tmpdir(), 'scaled-login-compose-'));
    await writeFile(join(envFileDir, 'empty.env'), '');
    python = await yamlToJsonCommand();
  });

  afterAll(async () => {
    if (envFileDir) await rm(envFileDir, { recursive: true, force: true });
  });

  /** The normalised config for a profile, parsed once. */
  async function configFor(profile: ProfileName): Promise<ComposeConfig> {
    let config = configs.get(profile);
    if (!config) {
      config = (await yamlToJson(await composeConfig(profile), python)) as ComposeConfig;
      configs.set(profile, config);
    }
    return config;
  }

  it('names no profile that cluster/profiles.ts does not define', async () => {
    const config = await configFor(profileNames[0]!);
    const used = new Set(Object.values(config.services).flatMap((s) => s.profiles ?? []));
    expect([...used].sort()).toEqual([...profileNames].sort());
  });

  describe.each(profileNames)('profile %s', (name) => {
    const profile = profiles[name];
    const replicas = REPLICAS.map((r) => `${name}-${r}`);

    it('is valid for docker-compose and enables exactly its services', async () => {
      const config = await configFor(name);
      expect(enabledServices(config, name)).toEqual(
        [
          'postgres',
          'migrate',
          'tls-cert',
          ...profile.services,
          ...replicas,
          `${name}-nginx`,
        ].sort(),
      );
    });

    it('runs three replicas of the app image with the profile, store and replica name', async () => {
      const { services } = await configFor(name);
      replicas.forEach((service, i) => {
        const s = services[service]!;
        const env = environmentOf(s);
        expect(s.image).toBe(services.migrate!.image);
        expect(s.build?.dockerfile).toBe('docker/Dockerfile');
        expect(env).toMatchObject({
          REPLICA_NAME: REPLICAS[i],
          PROFILE: name,
          SESSION_STORE: profile.store,
          NODE_ENV: 'production',
          HOST: '0.0.0.0',
          PORT: String(APP_PORT),
        });
        expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\/app:[^@]+@postgres:5432\/app$/);
        expect(env.TRUST_PROXY).toContain('uniquelocal');
        if (profile.store === 'redis') expect(env.REDIS_URL).toBe('redis://redis:6379');
        else expect(env.REDIS_URL).toBeUndefined();
        // nginx's upstream entries are app-1:3000 ... in every profile.
        expect(aliasesOf(s)).toContain(REPLICAS[i]);
        expect(s.healthcheck?.test).toBeDefined();
      });
    });

    it('starts the replicas after the migration and the profile backends', async () => {
      const { services } = await configFor(name);
      const expected: Record<string, string> = { migrate: 'service_completed_successfully' };
      for (const extra of profile.services) expected[extra] = 'service_healthy';
      for (const service of replicas) expect(dependenciesOf(services[service]!)).toEqual(expected);
      expect(dependenciesOf(services.migrate!)).toEqual({ postgres: 'service_healthy' });
      expect(services.migrate!.command).toEqual(['node', 'dist/database/migrate.js']);
    });

    it('gives every replica (and the migration) one shared, non-sample SESSION_SECRET', async () => {
      const { services } = await configFor(name);
      const secrets = new Set(
        [...replicas, 'migrate'].map((s) => environmentOf(services[s]!).SESSION_SECRET),
      );
      expect(secrets.size).toBe(1);
      const [secret] = [...secrets];
      // What src/config/ accepts in production: each comma-separated entry >= 32 characters,
      // and not the sample from .env.example.
      for (const part of secret!.split(',')) expect(part.trim().length).toBeGreaterThanOrEqual(32);
      expect(secret).not.toContain('change-me');
    });

    it('puts nginx in front with the template variables of cluster/nginx.ts', async () => {
      const { services } = await configFor(name);
      const nginx = services[`${name}-nginx`]!;
      const env = environmentOf(nginx);
      const vars = nginxTemplateVars({
        listen: NGINX_PORT,
        tls: NGINX_TLS,
        policy: profile.upstream,
        servers: REPLICAS.map((host) => ({ host, port: APP_PORT })),
      });
      expect(env.NGINX_PORT).toBe(vars.NGINX_PORT);
      expect([env.NGINX_TLS_PORT, env.NGINX_TLS_CERT, env.NGINX_TLS_KEY]).toEqual([
        vars.NGINX_TLS_PORT,
        vars.NGINX_TLS_CERT,
        vars.NGINX_TLS_KEY,
      ]);
      expect(env.NGINX_UPSTREAM_POLICY).toBe(upstreamDirective(profile.upstream));
      expect(normaliseSpace(env.NGINX_UPSTREAM_SERVERS ?? '')).toBe(
        normaliseSpace(vars.NGINX_UPSTREAM_SERVERS),
      );
      // If a filter is set, it must let every template variable through (the image passes it to
      // awk/perl as a regular expression over variable names).
      if (env.NGINX_ENVSUBST_FILTER) {
        for (const key of Object.keys(vars))
          expect(key).toMatch(new RegExp(env.NGINX_ENVSUBST_FILTER));
      }
      expect(nginx.image).toMatch(/^nginx:/);
      const templates = (nginx.volumes ?? []).map((v) =>
        typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`,
      );
      expect(templates).toContain(`${join(ROOT, 'nginx', 'templates')}:/etc/nginx/templates:ro`);
      // The certificate comes from the one-shot tls-cert service, through a volume.
      expect(templates).toContain('tls:/etc/nginx/tls:ro');
      const ports = (nginx.ports ?? []).map((p) =>
        typeof p === 'string' ? p : `${p.published}:${p.target}`,
      );
      expect(ports).toEqual([
        `${NGINX_PORT}:${NGINX_PORT}`,
        `${NGINX_TLS.listen}:${NGINX_TLS.listen}`,
      ]);
      expect(dependenciesOf(nginx)).toEqual({
        ...Object.fromEntries(replicas.map((r) => [r, 'service_healthy'])),
        'tls-cert': 'service_completed_successfully',
      });
    });

    if ((profile.services as readonly string[]).includes('redis')) {
      it('runs Redis with an append-only file and a health check', async () => {
        const { services } = await configFor(name);
        const redis = services.redis!;
        const command = Array.isArray(redis.command)
          ? redis.command.join(' ')
          : (redis.command ?? '');
        expect(command).toMatch(/--appendonly yes/);
        expect(command).toMatch(/--appendfsync everysec/);
        expect(JSON.stringify(redis.healthcheck?.test)).toContain('ping');
        expect(redis.volumes?.length).toBeGreaterThan(0);
      });
    }

    it('runs Postgres with user, password and database "app" and a pg_isready health check', async () => {
      const { services } = await configFor(name);
      const postgres = services.postgres!;
      expect(environmentOf(postgres)).toMatchObject({
        POSTGRES_USER: 'app',
        POSTGRES_PASSWORD: 'app',
        POSTGRES_DB: 'app',
      });
      expect(JSON.stringify(postgres.healthcheck?.test)).toContain('pg_isready');
      expect(postgres.volumes?.length).toBeGreaterThan(0);
    });
  });
});
