// docker-compose.yml as the real docker-compose reads it (YAML 1.1, merge keys, interpolation,
// profiles), against the profile table and the plugins that generated it: what each profile
// enables, and whether the environment compose resolves for each replica is one the app itself
// accepts. Needs Debian's docker-compose (installed by scripts/setup) but no Docker engine:
// `docker-compose config` validates and normalises the file without starting anything.
// (That the committed file is what the generator writes is a unit test: cluster/compose.spec.ts.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  backendOf,
  profileNames,
  profileOf,
  replicaNames,
  routingOf,
  type ProfileName,
} from '../cluster/profiles.js';
import { nginxTemplateVars } from '../cluster/services/nginx.js';
import { isServiceOf } from '../cluster/services/service.js';
import { defined } from '../src/common/defined.js';
import { AppConfig } from '../src/config/app-config.js';

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
  depends_on?: Record<string, { condition?: string } | null> | string[];
  networks?: Record<string, { aliases?: string[] } | null> | string[];
  ports?: ({ host_ip?: string; published?: number | string; target?: number | string } | string)[];
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
  const child = execFile(defined(command, 'a python command'), [...args, '-c', program], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const { stdin, stdout, stderr } = child;
  // execFile always pipes all three; the types also cover a child started with other stdio.
  if (!stdin || !stdout || !stderr)
    throw new Error(`${python.join(' ')} was started without pipes`);
  const output = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`${python.join(' ')} could not convert YAML (exit ${String(code)}): ${err}`),
        );
    });
  });
  stdin.end(yaml);
  const parsed: unknown = JSON.parse(await output);
  return parsed;
}

/**
 * A service's environment as its container gets it. `config` prints values escaped for reuse as a
 * compose file (a literal "$" as "$$"); the container gets the "$".
 */
function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries: Array<[string, string]> = Array.isArray(env)
    ? env.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(env).map(([k, v]) => [k, v ?? '']);
  return Object.fromEntries(entries.map(([k, v]) => [k, v.replaceAll('$$', '$')]));
}

/** "address:host:container" of each published port (v1 prints strings, v2 objects). */
function publishedPorts(service: Service): string[] {
  return (service.ports ?? []).map((p) =>
    typeof p === 'string'
      ? p.replace(/\/tcp$/, '')
      : `${p.host_ip ?? ''}:${p.published ?? ''}:${p.target ?? ''}`,
  );
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

const USER_REPLICATION_SECRET = 'u'.repeat(43);

describe('docker-compose.yml, as docker-compose reads it', () => {
  let envFileDir: string;
  let python: string[];
  const configs = new Map<ProfileName, ComposeConfig>();

  /** `docker-compose --profile p config`: exit 0 means the file is valid for that profile. */
  async function composeConfig(
    profile: ProfileName,
    extraEnv: Record<string, string> = {},
  ): Promise<string> {
    // Only the file's own defaults: no secret, port or profile selection from the caller's
    // shell, and (via --env-file) not a developer's .env next to the compose file.
    const unset = new Set([
      'SESSION_SECRET',
      'HTTP_PORT',
      'HTTPS_PORT',
      'PUBLISH_ADDRESS',
      'COMPOSE_PROFILES',
      'COMPOSE_FILE',
      'COMPOSE_ENV_FILES',
    ]);
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !unset.has(key)),
    );
    // The one value a user must set: the file holds no default for it (no committed secret).
    env.REPLICATION_SECRET = USER_REPLICATION_SECRET;
    Object.assign(env, extraEnv);
    const args = ['-f', 'docker-compose.yml', '--env-file', join(envFileDir, 'empty.env')];
    args.push('--profile', profile, 'config');
    try {
      const { stdout } = await run(COMPOSE, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool(COMPOSE, error);
      const { stderr } = error as { stderr?: string };
      throw new Error(
        `${COMPOSE} --profile ${profile} config failed:\n${stderr ?? String(error)}`,
        {
          cause: error,
        },
      );
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
    const config = await configFor(defined(profileNames[0], 'a profile'));
    const used = new Set(Object.values(config.services).flatMap((s) => s.profiles ?? []));
    expect([...used].sort()).toEqual([...profileNames].sort());
  });

  it('moves the published ports with HTTP_PORT, HTTPS_PORT and PUBLISH_ADDRESS (no override file)', async () => {
    // An override file would not do: docker-compose v1 adds its ports to these.
    const env = { HTTP_PORT: '18080', HTTPS_PORT: '18443', PUBLISH_ADDRESS: '0.0.0.0' };
    const profile = defined(profileNames[0], 'a profile');
    const config = (await yamlToJson(await composeConfig(profile, env), python)) as ComposeConfig;
    const nginx = defined(config.services[`${profile}-nginx`], `the ${profile}-nginx service`);
    expect(publishedPorts(nginx)).toEqual([
      `0.0.0.0:18080:${NGINX_PORT}`,
      `0.0.0.0:18443:${NGINX_TLS.listen}`,
    ]);
  });

  describe.each(profileNames)('profile %s', (name) => {
    const profile = profileOf(name);

    it("enables the shared services, its backend's servers, three replicas and its nginx", async () => {
      const config = await configFor(name);
      const enabled = enabledServices(config, name);
      expect(enabled).toEqual(expect.arrayContaining(['postgres', 'migrate', 'tls-cert']));
      for (const server of backendOf(profile).services)
        expect(enabled.filter((s) => isServiceOf(server, s)).length).toBeGreaterThan(0);
      // A profile's own services (by name: "sticky-" is also the start of "sticky-cookie-").
      const own = (p: string) => [...REPLICAS.map((r) => `${p}-${r}`), `${p}-nginx`];
      expect(enabled.filter((s) => own(name).includes(s)).sort()).toEqual(own(name).sort());
      // Nothing of another profile.
      for (const other of profileNames.filter((p) => p !== name))
        expect(enabled.filter((s) => own(other).includes(s))).toEqual([]);
    });

    it('gives each replica, as compose resolves it, an environment the app accepts', async () => {
      const { services } = await configFor(name);
      const secrets = new Set<string | undefined>();
      for (const replica of REPLICAS) {
        const s = defined(services[`${name}-${replica}`], `the ${name}-${replica} service`);
        const env = environmentOf(s);
        const config = AppConfig.fromEnv(env); // throws with every bad key, if any
        expect(config).toMatchObject({ replicaName: replica, profile: name, port: APP_PORT });
        expect(config.session.store).toBe(profile.sessions);
        expect(config.production).toBe(true);
        expect(aliasesOf(s)).toContain(replica); // nginx's upstream entries are app-1:3000, ...
        expect(dependenciesOf(s)).toMatchObject({ migrate: 'service_completed_successfully' });
        for (const server of backendOf(profile).services) {
          const waited = Object.entries(dependenciesOf(s)).filter(([d]) => isServiceOf(server, d));
          expect(waited.length).toBeGreaterThan(0);
          for (const [, condition] of waited) expect(condition).toBe('service_healthy');
        }
        secrets.add(env.SESSION_SECRET);
        if (backendOf(profile).peerChannel) {
          // No peer list: each replica finds the others by DNS, behind the alias they all share.
          expect(env.REPLICATION_PEERS).toBeUndefined();
          expect(env.REPLICATION_MEMBERSHIP).toBe('dns');
          expect(aliasesOf(s)).toContain(env.REPLICATION_DNS_NAME);
          expect(env.REPLICATION_SECRET).toBe(USER_REPLICATION_SECRET);
        }
      }
      // One secret for all, or a cookie signed by one replica fails on the others.
      expect(secrets.size).toBe(1);
    });

    it("puts nginx in front with the profile's routing over app-1:3000 ... on published ports", async () => {
      const { services } = await configFor(name);
      const nginx = defined(services[`${name}-nginx`], `the ${name}-nginx service`);
      const env = environmentOf(nginx);
      const vars = nginxTemplateVars(
        // Listening on every interface of its container.
        { http: `0.0.0.0:${NGINX_PORT}`, https: `0.0.0.0:${NGINX_TLS.listen}`, tls: NGINX_TLS },
        routingOf(profile).render(REPLICAS.map((r) => ({ name: r, host: r, port: APP_PORT }))),
      );
      for (const [key, value] of Object.entries(vars))
        expect([key, env[key]]).toEqual([key, value]);
      // The image passes the filter to awk as a regular expression over variable names.
      for (const key of Object.keys(vars))
        expect(key).toMatch(new RegExp(defined(env.NGINX_ENVSUBST_FILTER, "nginx's env filter")));
      expect(publishedPorts(nginx)).toEqual([
        `127.0.0.1:${NGINX_PORT}:${NGINX_PORT}`,
        `127.0.0.1:${NGINX_TLS.listen}:${NGINX_TLS.listen}`,
      ]);
      expect(Object.keys(dependenciesOf(nginx)).sort()).toEqual(
        [...REPLICAS.map((r) => `${name}-${r}`), 'tls-cert'].sort(),
      );
    });
  });
});
