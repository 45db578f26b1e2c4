import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createClient } from 'redis';
import { SESSION_KEY_PATTERN } from '../../src/session/backends/redis-store.js';
import { note } from '../compose-file.js';
import { ManagedProcess } from '../process/managed-process.js';
import { freePort } from '../process/ports.js';
import { OwnedServer, type ServerProcess } from '../process/server-process.js';
import { serverMember, type ServicePlugin, type StoreObserver } from './service.js';

export interface RedisOptions {
  /** Work dir; holds the append-only files and the log. Created if missing. */
  dir: string;
  port: number;
  /** Loopback only by default; Redis has no password here. */
  host?: string;
  /** Log every write (fsync once a second) so data survives restarts. */
  appendOnly?: boolean;
  /** Hard limit for start-up until PING is answered. */
  readyTimeoutMs?: number;
}

export interface RedisServer extends ServerProcess {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** SIGTERM: Redis flushes the append-only file and exits cleanly. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash: up to a second of writes may be lost (appendfsync everysec). */
  kill(): Promise<void>;
}

type RedisConfig = Required<RedisOptions>;

export async function startRedis(options: RedisOptions): Promise<RedisServer> {
  const config: RedisConfig = {
    dir: resolve(options.dir), // also the child's cwd: a relative path would resolve twice
    port: options.port,
    host: options.host ?? '127.0.0.1',
    appendOnly: options.appendOnly ?? true,
    readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
  };
  await mkdir(config.dir, { recursive: true });
  return new RedisProcess(config, await launch(config));
}

class RedisProcess extends OwnedServer<RedisConfig> implements RedisServer {
  readonly url: string;

  constructor(config: RedisConfig, server: ManagedProcess) {
    super(config, server, launch);
    this.url = `redis://${config.host}:${config.port}`;
  }

  async stop(): Promise<void> {
    await this.server.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
  }

  async kill(): Promise<void> {
    await this.server.kill();
  }
}

/** Arguments only, no config file: everything that differs from Redis' defaults is visible here. */
async function launch(config: RedisConfig): Promise<ManagedProcess> {
  const server = await ManagedProcess.start({
    name: 'redis-server',
    command: 'redis-server',
    args: [
      ...['--port', String(config.port), '--bind', config.host, '--dir', config.dir],
      ...['--save', ''], // no RDB snapshots: the append-only file is the persistence under test
      ...['--appendonly', config.appendOnly ? 'yes' : 'no', '--appendfsync', 'everysec'],
      ...['--daemonize', 'no', '--protected-mode', 'yes'],
    ],
    cwd: config.dir,
    logFile: join(config.dir, 'redis.log'),
  });
  await server.waitUntilReady(
    async () => (await redisProcessId(config.host, config.port, 1_000)) === server.pid,
    {
      timeoutMs: config.readyTimeoutMs,
      what: `answers PING on ${config.host}:${config.port} as pid ${server.pid}`,
    },
  );
  return server;
}

/**
 * Sends `PING` and `INFO server` on one raw RESP connection and resolves the answering
 * server's process_id. The PID is how a starter knows the answer came from the server it just
 * spawned, not from another one that already held the port. Rejects unless PING gets +PONG
 * (e.g. "-LOADING" while Redis replays its append-only file), so a timeout says why.
 */
export function redisProcessId(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (outcome: Error | number): void => {
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no reply within ${timeoutMs} ms`)));
    socket.once('error', finish);
    socket.once('end', () => finish(new Error('connection closed before Redis replied')));
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const outcome = parseReplies(received);
      if (outcome !== undefined) finish(outcome);
    });
  });
}

/** The process_id, an Error for a bad reply, or undefined while the replies are incomplete. */
function parseReplies(data: Buffer): number | Error | undefined {
  const pingEnd = data.indexOf('\r\n');
  if (pingEnd === -1) return undefined;
  const pong = data.subarray(0, pingEnd).toString();
  if (pong !== '+PONG') return new Error(`PING answered ${pong}`);

  // INFO's reply is a bulk string: "$<byte length>\r\n<bytes>\r\n".
  const headerEnd = data.indexOf('\r\n', pingEnd + 2);
  if (headerEnd === -1) return undefined;
  const header = data.subarray(pingEnd + 2, headerEnd).toString();
  if (!header.startsWith('$')) return new Error(`INFO answered ${header}`);
  const body = data.subarray(headerEnd + 2, headerEnd + 2 + Number(header.slice(1)));
  if (body.length < Number(header.slice(1))) return undefined;
  const match = /^process_id:(\d+)/m.exec(body.toString());
  return match ? Number(match[1]) : new Error('INFO server has no process_id');
}

/** Commands per pipeline when the observer writes or removes session copies. */
const BATCH = 2000;
/** The app's idle timeout: copies left behind by an interrupted run expire like real sessions. */
const COPY_TTL_MS = 30 * 60_000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

const observerClient = (url: string) => createClient({ url, disableOfflineQueue: true });
type ObserverClient = ReturnType<typeof observerClient>;

/** Up to `limit` keys matching `pattern`. */
async function scanKeys(client: ObserverClient, pattern: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    keys.push(...batch);
    if (keys.length >= limit) break;
  }
  return keys.slice(0, limit);
}

const memoryUsage = async (client: ObserverClient, key: string) =>
  (await client.memoryUsage(key, { SAMPLES: 0 })) ?? 0;

/**
 * Copies `count` times a stored session that names its user (a UUID in the value), with a new
 * user id in each, so nothing here depends on the session's format. The copies' keys have the
 * app's shape (the session prefix and 22 base64url characters), made from a random prefix and a
 * counter: they can be removed again without keeping 100,000 strings in the observing process
 * (whose heap, and GC pauses, would otherwise grow with the store and slow the load generator).
 */
async function fillWithCopies(client: ObserverClient, count: number): Promise<() => Promise<void>> {
  let template: { value: string; userId: string } | undefined;
  for (const key of await scanKeys(client, SESSION_KEY_PATTERN, 50)) {
    const value = await client.get(key);
    const userId = value && UUID.exec(value)?.[0];
    if (value && userId) {
      template = { value, userId };
      break;
    }
  }
  if (!template) throw new Error('no session in Redis that names its user, to copy');

  const prefix = randomBytes(11).toString('base64url').slice(0, 14);
  const keyOf = (i: number) =>
    SESSION_KEY_PATTERN.replace('*', prefix + i.toString(36).padStart(8, '0'));
  for (let from = 0; from < count; from += BATCH) {
    const pipe = client.multi();
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const value = template.value.replaceAll(template.userId, randomUUID());
      pipe.set(keyOf(i), value, { expiration: { type: 'PX', value: COPY_TTL_MS } });
    }
    await pipe.execAsPipeline();
  }
  return async () => {
    for (let from = 0; from < count; from += BATCH) {
      const keys: string[] = [];
      for (let i = from; i < Math.min(count, from + BATCH); i++) keys.push(keyOf(i));
      await client.unlink(keys);
    }
  };
}

/** INFO commandstats and used_memory, sampled sessions and copies of them, over a client of its own. */
async function observeRedis(url: string): Promise<StoreObserver> {
  const client = observerClient(url);
  client.on('error', () => undefined); // a refused connect rejects connect() below
  await client.connect();
  // Redis counts a command once it has run: each INFO reply counts this observer's earlier ones.
  let infoCalls = 0;
  const info = async (section: string) => {
    const text = await client.info(section);
    infoCalls++;
    return text;
  };
  return {
    label: 'Redis',
    async commandCounts() {
      const earlier = infoCalls;
      const text = await info('commandstats');
      const counts = new Map<string, number>();
      for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        counts.set(m[1], Number(m[2]));
      const infos = counts.get('info');
      if (infos !== undefined) counts.set('info', infos - earlier);
      return counts;
    },
    async usedMemory() {
      return Number(/^used_memory:(\d+)/m.exec(await info('memory'))?.[1] ?? NaN);
    },
    async sampleSessions(limit) {
      const keys = await scanKeys(client, SESSION_KEY_PATTERN, limit);
      if (keys.length === 0) throw new Error('no session keys in Redis to sample');
      let bytes = 0;
      let valueBytes = 0;
      for (const key of keys) {
        bytes += await memoryUsage(client, key);
        valueBytes += await client.strLen(key);
      }
      return {
        count: keys.length,
        bytes: bytes / keys.length,
        valueBytes: valueBytes / keys.length,
        example: (await client.get(keys[0])) ?? '',
      };
    },
    // DBSIZE, so no key list is built here: every key, i.e. sessions and a few login-attempt counters.
    sessionCount: () => client.dbSize(),
    fill: (count) => fillWithCopies(client, count),
    close: async () => client.destroy(),
  };
}

/**
 * One Redis server, for the redis backend. Natively it runs with an append-only file (fsync once
 * a second), so sessions survive a restart of it; in compose the same, on a volume.
 */
export const redisService: ServicePlugin = {
  name: 'redis',

  async start(ctx) {
    const dir = join(ctx.workDir, 'redis');
    const server = await startRedis({
      dir,
      port: await freePort(),
      appendOnly: true,
      readyTimeoutMs: ctx.readyTimeoutMs,
    });
    return {
      members: [serverMember('redis', 'redis', server, join(dir, 'redis.log'))],
      env: { REDIS_URL: server.url },
      observe: () => observeRedis(server.url),
    };
  },

  compose(file) {
    file.service(
      'redis',
      {
        image: 'redis:7-alpine',
        restart: 'unless-stopped',
        command: note('Append-only file, fsynced every second: sessions survive a Redis restart.', [
          'redis-server',
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
        ]),
        volumes: ['redis-data:/data'],
        healthcheck: {
          test: note(
            'PONG, not just an answer: while it loads the append-only file Redis answers an error.',
            ['CMD-SHELL', 'redis-cli ping | grep -q PONG'],
          ),
          interval: '2s',
          timeout: '3s',
          retries: 30,
        },
      },
      'One Redis server, shared by the replicas of the profiles whose backend needs it.',
    );
    file.volume('redis-data');
    return { env: { REDIS_URL: 'redis://redis:6379' }, waitFor: ['redis'] };
  },
};
