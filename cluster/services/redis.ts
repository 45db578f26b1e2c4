/**
 * A Redis server, described once: the redis backend's one server here, and the building block
 * of redis-ha (with a role file) and redis-cluster (as a cluster node). It keeps an append-only
 * file (fsync once a second), so data survives a restart of it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defined } from '../../src/common/defined.js';
import type { ProcessLedger } from '../process/ledger.js';
import { errorCode } from '../process/poll.js';
import { standalonePlace, startStandalone } from '../render/native.js';
import type { Place, ServerDescription } from './description.js';
import { observeRedis } from './redis-observer.js';
import type { RunningServer, ServicePlugin } from './service.js';

export { askRedis, redisProcessId } from './redis-protocol.js';

export const REDIS_PORT = 6379;
export const REDIS_IMAGE = 'redis:7-alpine';

export interface RedisDescription {
  /** Member name, e.g. 'redis-1'. */
  name: string;
  /** Network (compose service) name, e.g. 'redis-ha-1'. */
  service: string;
  /** Port book and state dir key, e.g. 'redis-ha/redis-1'. */
  key: string;
  /**
   * A config file in its state dir that holds its role (replicaof): Sentinel rewrites that file
   * when it changes a server's role (CONFIG REWRITE), so a restart keeps the role Sentinel gave
   * it last, not the one it started with.
   */
  roleFile?: boolean;
  /** A Redis Cluster node: its cluster state (id, role, peers) lives in nodes.conf. */
  cluster?: { nodeTimeoutMs: number };
  /** The cluster bus listens on port + this, which must be free too. */
  busOffset?: number;
  after?: string[];
  prepare?: () => Promise<void>;
  comment?: string;
}

/**
 * One Redis server. Everything that differs from Redis' defaults is on the command line, except
 * a role (replicaof): that is in the role file, which Redis may rewrite.
 */
export async function describeRedis(place: Place, o: RedisDescription): Promise<ServerDescription> {
  const port = await place.port(o.key, REDIS_PORT, { keep: true, plus: o.busOffset });
  const dir = place.dir(o.key, '/data');
  return {
    name: o.name,
    service: o.service,
    kind: 'redis',
    image: REDIS_IMAGE,
    command: [
      'redis-server',
      ...(o.roleFile ? [configFileOf(dir)] : []),
      ...['--port', String(port), '--bind', place.bind, '--dir', dir],
      ...['--save', ''], // no RDB snapshots: the append-only file is the persistence under test
      ...['--appendonly', 'yes', '--appendfsync', 'everysec'],
      ...['--daemonize', 'no'],
      // Natively on loopback only; elsewhere (containers, the network mode's own network) others
      // connect over the network, which only the cluster's members are on.
      ...['--protected-mode', place.kind === 'native' && !place.privateNetwork ? 'yes' : 'no'],
      ...(o.cluster
        ? [
            ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
            ...['--cluster-node-timeout', String(o.cluster.nodeTimeoutMs)],
            // A master down takes only its own slots away: the others keep serving.
            ...['--cluster-require-full-coverage', 'no'],
          ]
        : []),
      // Clients are redirected by name where addresses change on restart.
      ...(o.cluster && place.byName
        ? [
            '--cluster-announce-hostname',
            o.service,
            '--cluster-preferred-endpoint-type',
            'hostname',
          ]
        : []),
    ],
    port,
    // PONG, not just an answer: while it loads the append-only file Redis answers an error.
    ready: { kind: 'redis', port },
    stop: { signal: 'SIGTERM', timeoutMs: 10_000 }, // flushes the append-only file, exits
    state: { dir, volume: `${o.service}-data` },
    after: o.after,
    prepare: o.prepare,
    comment: o.comment,
  };
}

/** The role file of the server in `dir`. */
const configFileOf = (dir: string) => join(dir, 'redis.conf');

/**
 * Writes the role file with `lines` unless it exists (then it is as Redis or Sentinel left it,
 * less a `dir` line); true when it wrote it. Redis' CONFIG REWRITE (a role change) writes the
 * absolute dir it ran in, and Redis reads the file before the command line's `--dir`: in a work
 * dir that has moved since (copied, restored, a test's fixture) it would stop at that line.
 */
export async function ensureRoleFile(dir: string, lines: string[] = []): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  const file = configFileOf(dir);
  const text = lines.map((l) => `${l}\n`).join('');
  const created = await writeFile(file, text, { flag: 'wx' }).then(
    () => true,
    (err: unknown) => {
      if (errorCode(err) !== 'EEXIST') throw err;
      return false;
    },
  );
  if (!created) {
    const old = await readFile(file, 'utf8');
    const kept = old.split('\n').filter((line) => !/^dir\s/i.test(line));
    if (kept.join('\n') !== old) await writeFile(file, kept.join('\n'));
  }
  return created;
}

/**
 * Sets the role in the role file of the (stopped) server in `dir`: a replica of `primary`, or a
 * primary (null). The rest of the file stays as Redis or Sentinel last wrote it.
 */
export async function setReplicaOf(
  dir: string,
  primary: { host: string; port: number } | null,
): Promise<void> {
  const file = configFileOf(dir);
  const kept = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line && !/^(replicaof|slaveof) /i.test(line));
  const role = primary ? [`replicaof ${primary.host} ${primary.port}`] : [];
  await writeFile(file, [...kept, ...role, ''].join('\n'));
}

/** Whether the role file in `dir` makes its server a replica; undefined when there is none. */
export async function isReplicaByConfig(dir: string): Promise<boolean | undefined> {
  const text = await readFile(configFileOf(dir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : /^(replicaof|slaveof) /im.test(text);
}

export interface RedisServer extends RunningServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly dir: string;
}

/** One Redis server on its own (tests): the redis plugin's description, started natively. */
export async function startRedis(options: {
  dir: string;
  port: number;
  readyTimeoutMs?: number;
  ledger?: ProcessLedger;
}): Promise<RedisServer> {
  const dir = resolve(options.dir);
  const place = standalonePlace(dir, options.port);
  const description = await describeRedis(place, { name: 'redis', service: 'redis', key: 'redis' });
  const server = await startStandalone(description, { ...options, dir });
  // Its state dir is `dir` (described so): the handle says it as a plain string.
  return Object.assign(server, { url: `redis://${server.host}:${server.port}` }) as RedisServer;
}

/** One Redis server, for the redis backend. */
export const redisService: ServicePlugin = {
  name: 'redis',

  async describe(place) {
    const server = await describeRedis(place, {
      name: 'redis',
      service: 'redis',
      key: 'redis',
      comment: 'One Redis server, shared by the replicas of the profiles whose backend needs it.',
    });
    return {
      units: [server],
      env: { REDIS_URL: `redis://${place.host(server.service)}:${server.port}` },
    };
  },

  async started(servers) {
    const redis = defined(servers.get('redis'), 'the redis server');
    return { observe: () => observeRedis(`redis://${redis.host}:${redis.port}`) };
  },
};
