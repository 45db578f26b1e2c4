/**
 * Server descriptions as compose services: every profile's plugins describe their servers for a
 * network of containers (standard ports, service names as hosts, volumes for state), and each
 * description becomes one service; a `prepare` becomes a one-shot container from the app image
 * that runs the same TypeScript on the server's volume first (tools/cluster/prepare.ts). Services
 * that several profiles share are written once, with those profiles.
 */
import { defined } from '../../src/common/defined.js';
import { profileNames, profileOf, type Profile } from '../profiles.js';
import {
  isServer,
  type JobDescription,
  type Probe,
  type ServerDescription,
} from '../services/description.js';
import { APP_IMAGE } from '../services/app.js';
import { describeAll, type DescribedPlugin } from './compose-place.js';
import {
  ComposeFile,
  dependsOn,
  MERGE,
  note,
  type ComposeValue,
  type Fragment,
} from './compose-file.js';

/** Comments for settings whose value needs a word in the generated file. */
const ENV_NOTES: Record<string, string> = {
  SESSION_SECRET:
    'DEMO ONLY. Every replica must share the secret, or a cookie signed by one replica is\n' +
    'rejected by the others. The default below is public: for anything real, set your own\n' +
    '(openssl rand -base64 48) in the environment or in an .env file next to this one.\n' +
    'Compose reads that .env for ${...} here: a copy of .env.example still holding its\n' +
    'sample secret makes the replicas refuse to start (production refuses the sample).',
  TRUST_PROXY: 'nginx reaches the replicas over the compose network (a private address range).',
  REPLICATION_SECRET:
    'Signs every peer message. No default on purpose: set it for the replicated and backup profiles, e.g.\n' +
    'REPLICATION_SECRET=$(openssl rand -base64 48) docker compose --profile replicated up --build',
};

/** A probe as a compose health check: the same check, with the image's own tools. */
export function composeHealthcheck(probe: Probe): Record<string, ComposeValue> {
  const every = { interval: '2s', timeout: '3s', retries: 30 };
  switch (probe.kind) {
    case 'redis':
      return { test: ['CMD-SHELL', `redis-cli -p ${probe.port} ping | grep -q PONG`], ...every };
    case 'memcached':
      return {
        test: ['CMD-SHELL', `echo stats | nc -w 1 127.0.0.1 ${probe.port} | grep -q "STAT pid"`],
        ...every,
      };
    case 'postgres':
      return {
        test: note(
          "Over TCP: the image's first-start initialisation runs a temporary server on the Unix\n" +
            'socket only, so this stays false until the real server is up.',
          ['CMD', 'pg_isready', '-h', '127.0.0.1', '-p', String(probe.port)].concat([
            '-U',
            probe.user,
            '-d',
            probe.database,
          ]),
        ),
        ...every,
      };
    case 'tcp':
      return { test: ['CMD-SHELL', `nc -z 127.0.0.1 ${probe.port}`], ...every };
    case 'http':
      // Slim images have no curl; Node's own fetch does the request.
      return {
        test: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${probe.port}${probe.path}', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: '5s',
        timeout: '3s',
        start_period: '30s',
        retries: 3,
      };
  }
}

/**
 * Compose substitutes `$name` in the file itself: a `$` meant for the program (nginx's
 * `$cookie_route`, a shell's `$(...)`) is written `$$`. `${NAME:-default}` stays: that is ours.
 */
export const literal = (value: string): string => value.replace(/\$(?!\{)/g, '$$$$');

/** A command line for `sh -c`: plain words as they are, the rest quoted; `$(...)` stays live. */
function shellWords(words: readonly string[]): string {
  return words
    .map((w) =>
      /^[\w./:=@,-]+$/.test(w) || w.startsWith('$(') ? w : `'${w.replace(/'/g, `'\\''`)}'`,
    )
    .join(' ');
}

/**
 * The command as a container runs it (compose, Kubernetes): a shell only where a job needs one
 * (a guard, a lookup). Each renderer escapes `$` its own way.
 */
export function containerCommand(unit: ServerDescription | JobDescription): readonly string[] {
  const unless = isServer(unit) ? undefined : unit.unless;
  if (!unless && !unit.command.some((w) => w.includes('$('))) return unit.command;
  const guard = unless
    ? `redis-cli -h ${unless.service} -p ${unless.port} ${unless.redis.join(' ').toLowerCase()} | grep -q ${unless.contains} || `
    : '';
  return ['sh', '-c', guard + 'exec ' + shellWords(unit.command)];
}

const commandOf = (unit: ServerDescription | JobDescription): ComposeValue =>
  containerCommand(unit).map(literal);

/** Writes every profile's services, as `all` describes them (in compose's place), into `file`. */
export async function renderCompose(
  file: ComposeFile,
  described?: readonly DescribedPlugin[],
): Promise<void> {
  const all = described ?? (await describeAll());
  for (const name of profileNames) {
    const p = profileOf(name);
    file.section(name, `---- profile ${name}: ${p.shows}`);
  }
  const fragments = appFragments(file, all);
  for (const { profile, described } of all) {
    const units = described.units;
    const byService = new Map(
      all
        .filter((a) => a.profile === profile)
        .flatMap((a) => a.described.units.map((u) => [u.service, u] as const)),
    );
    const nameOf = (u: ServerDescription | JobDescription) =>
      isServer(u) && u.perProfile ? `${profile.name}-${u.service}` : u.service;
    const deps = (u: ServerDescription | JobDescription) => {
      const conditions: Record<string, string> = {};
      for (const after of u.after ?? []) {
        const dep = byService.get(after);
        if (!dep)
          throw new Error(
            `compose: ${u.service} comes after "${after}", which ${profile.name} does not run`,
          );
        conditions[nameOf(dep)] = isServer(dep)
          ? 'service_healthy'
          : 'service_completed_successfully';
      }
      if (isServer(u) && u.prepare)
        conditions[`${u.service}-prepare`] = 'service_completed_successfully';
      return Object.keys(conditions).length ? dependsOn(conditions) : undefined;
    };
    for (const unit of units) {
      const value = isServer(unit)
        ? serverValue(file, unit, profile, fragments, deps(unit))
        : jobValue(file, unit, fragments, deps(unit));
      if (isServer(unit) && unit.prepare)
        file.service(
          `${unit.service}-prepare`,
          prepareValue(unit, fragments),
          [profile.name],
          `${unit.service}: prepares its volume before every \`up\` (the same code as the native runner).`,
        );
      file.service(nameOf(unit), value, [profile.name], unit.comment);
    }
  }
}

interface AppFragments {
  image: Fragment;
  env: Fragment;
  /** A profile's replica environment, held by its first replica, and that environment. */
  profileEnv: Map<string, { anchor: Fragment; env: Readonly<Record<string, string>> }>;
  replica: Fragment;
  /** Keys of the common app environment. */
  common: Record<string, string>;
  /** The health check in the replica anchor. */
  replicaHealthcheck: Record<string, ComposeValue>;
}

/** The anchors the app's containers share: its image, its environment, a replica's settings. */
function appFragments(file: ComposeFile, all: readonly DescribedPlugin[]): AppFragments {
  const appUnits = all
    .flatMap((a) => a.described.units)
    .filter((u) => u.image === APP_IMAGE && u.env);
  const common = intersect(appUnits.map((u) => defined(u.env, `${u.service}'s environment`)));
  const replicaUnit = appUnits.filter(isServer).find((u) => u.kind === 'replica');
  if (!replicaUnit) throw new Error('no plugin describes an app replica');
  const image = file.fragment(
    'app-image',
    // Only the migration builds the image (see below); everyone else uses what it built.
    { image: APP_IMAGE, pull_policy: 'never' },
    'The app image, for the replicas, the migration and its other one-shot jobs.',
  );
  const env = file.fragment(
    'app-env',
    envValue(common),
    'Environment of every app container (src/config/ validates it; .env.example documents it).',
  );
  const replicaHealthcheck = composeHealthcheck(replicaUnit.ready);
  const replica = file.fragment(
    'replica',
    { [MERGE]: image, restart: 'unless-stopped', healthcheck: replicaHealthcheck },
    'An app replica; per profile it gets its profile, its session backend and what it waits for.',
  );
  return { image, env, replica, common, replicaHealthcheck, profileEnv: new Map() };
}

/** The keys (with values) every one of `envs` has. */
export function intersect(
  envs: ReadonlyArray<Readonly<Record<string, string>>>,
): Record<string, string> {
  const [first, ...rest] = envs;
  return Object.fromEntries(
    Object.entries(first ?? {}).filter(([k, v]) => rest.every((e) => e[k] === v)),
  );
}

/** An environment as compose writes it: `$` escaped, a comment where a setting needs one. */
function envValue(env: Readonly<Record<string, string>>): Record<string, ComposeValue> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      const value = literal(v);
      return [k, ENV_NOTES[k] && v.includes('${') ? note(ENV_NOTES[k], value) : value];
    }),
  );
}

/** `env` over the fragment `base` holds, as the keys that differ. */
function over(
  base: Fragment,
  baseEnv: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>>,
) {
  const rest = Object.fromEntries(Object.entries(env).filter(([k, v]) => baseEnv[k] !== v));
  const missing = Object.keys(baseEnv).filter((k) => !(k in env));
  if (missing.length)
    throw new Error(`compose: an environment lacks ${missing.join(', ')} of its anchor`);
  return Object.keys(rest).length ? { [MERGE]: base, ...envValue(rest) } : base;
}

function serverValue(
  file: ComposeFile,
  s: ServerDescription,
  profile: Profile,
  f: AppFragments,
  depends: ComposeValue | undefined,
): ComposeValue {
  const state = s.state ? [`${s.state.volume}:${s.state.dir}`] : [];
  if (s.state) file.volume(s.state.volume);
  const mounts = (s.mounts ?? []).map((m) => {
    if (!m.from.startsWith('.')) file.volume(m.from);
    return `${m.from}:${m.at}:ro`;
  });
  const volumes = [...state, ...mounts];
  const ports = s.publish?.map(
    (p) => `\${PUBLISH_ADDRESS:-127.0.0.1}:\${${p.hostVariable}:-${p.hostDefault}}:${p.port}`,
  );
  const common = {
    command: commandOf(s),
    volumes: volumes.length ? volumes : undefined,
    ports: ports
      ? note(
          'Host ports: HTTP_PORT=… HTTPS_PORT=… docker compose … to change them (variables, not an\n' +
            'override file: compose v1 adds override ports to these instead of replacing them).\n' +
            'Loopback only, as the demo secret is public; PUBLISH_ADDRESS=0.0.0.0 for every interface.',
          ports,
        )
      : undefined,
  };
  if (s.kind === 'replica') {
    // The first replica holds the profile's environment (&<profile>-env), the others merge it.
    const env = s.env ?? {};
    let environment: ComposeValue;
    const held = f.profileEnv.get(profile.name);
    if (!held) {
      const anchor = file.inline(`${profile.name}-env`, over(f.env, f.common, env));
      f.profileEnv.set(profile.name, { anchor, env });
      environment = anchor;
    } else environment = over(held.anchor, held.env, env);
    const healthcheck = composeHealthcheck(s.ready);
    const shared = JSON.stringify(healthcheck) === JSON.stringify(f.replicaHealthcheck);
    return {
      [MERGE]: f.replica,
      command: commandOf(s),
      // The anchor's check is the first replica's; another port needs its own.
      healthcheck: shared ? undefined : healthcheck,
      environment,
      depends_on: depends,
      networks: { default: { aliases: [s.service, ...(s.aliases ?? [])] } },
    };
  }
  return {
    image: s.image,
    restart: 'unless-stopped',
    ...common,
    environment: s.env ? envValue(s.env) : undefined,
    depends_on: depends,
    healthcheck: composeHealthcheck(s.ready),
    networks: s.perProfile ? { default: { aliases: [s.service] } } : undefined,
  };
}

function jobValue(
  file: ComposeFile,
  job: JobDescription,
  f: AppFragments,
  depends: ComposeValue | undefined,
): ComposeValue {
  if (job.state) file.volume(job.state.volume);
  const app = job.image === APP_IMAGE;
  // The one service that builds the app image: the first job in the app image (the migration).
  const builds = app && job.service === 'migrate';
  return {
    ...(app ? { [MERGE]: f.image } : { image: job.image }),
    build: builds
      ? note(
          'The one service that builds the image: `up --build` builds it once, and every other\n' +
            'service that uses it starts after this one (pull_policy: never).',
          { context: '.', dockerfile: 'docker/Dockerfile' },
        )
      : undefined,
    command: commandOf(job),
    environment: job.env ? (app ? over(f.env, f.common, job.env) : envValue(job.env)) : undefined,
    restart: 'no',
    volumes: job.state ? [`${job.state.volume}:${job.state.dir}`] : undefined,
    depends_on: depends,
  };
}

/** The one-shot container that runs a server's `prepare` on its volume before it starts. */
function prepareValue(s: ServerDescription, f: AppFragments): ComposeValue {
  return {
    [MERGE]: f.image,
    command: ['node', 'dist/tools/cluster/prepare.js', s.service],
    restart: 'no',
    // The volume belongs to the server's own user (e.g. redis); the one-shot writes its files.
    user: 'root',
    volumes: s.state ? [`${s.state.volume}:${s.state.dir}`] : undefined,
    depends_on: dependsOn({ migrate: 'service_started' }),
  };
}
