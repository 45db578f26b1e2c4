import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createClient } from 'redis';
import { note } from '../compose-file.js';
import type { ProcessLedger } from '../process/ledger.js';
import { ManagedProcess } from '../process/managed-process.js';
import { OwnedServer, type ServerProcess } from '../process/server-process.js';
import { observeRedis } from './redis-observer.js';
import { serverMember, type ServicePlugin } from './service.js';

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
  /**
   * Start as a replica of this server (null: as a primary; undefined: in the role its config
   * file holds). Written to the server's config file, not to its command line: Sentinel rewrites
   * that file when it changes a server's role (CONFIG REWRITE), so a restart keeps the role
   * Sentinel gave it last, not the one it started with.
   */
  replicaOf?: { host: string; port: number } | null;
  /** A Redis Cluster node: its cluster state (id, role, peers) lives in nodes.conf in `dir`. */
  cluster?: { nodeTimeoutMs: number };
  /** Where its PID is kept while it runs (a cluster's work dir). */
  ledger?: ProcessLedger;
}

export interface RedisServer extends ServerProcess {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** SIGTERM: Redis flushes the append-only file and exits cleanly. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash: up to a second of writes may be lost (appendfsync everysec). */
  kill(): Promise<void>;
}

type RedisConfig = Required<Omit<RedisOptions, 'replicaOf' | 'cluster' | 'ledger'>> & {
  ledger?: ProcessLedger;
};

/** The config file of the server in `dir`: written once, then Redis' own (CONFIG REWRITE). */
const configFileOf = (dir: string) => join(dir, 'redis.conf');

export async function startRedis(options: RedisOptions): Promise<RedisServer> {
  const config: RedisConfig = {
    dir: resolve(options.dir), // also the child's cwd: a relative path would resolve twice
    port: options.port,
    host: options.host ?? '127.0.0.1',
    appendOnly: options.appendOnly ?? true,
    readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
    ledger: options.ledger,
  };
  await mkdir(config.dir, { recursive: true });
  const lines = [
    ...(options.cluster
      ? [
          'cluster-enabled yes',
          'cluster-config-file nodes.conf',
          `cluster-node-timeout ${options.cluster.nodeTimeoutMs}`,
          // A master down takes only its own slots away: the others keep serving.
          'cluster-require-full-coverage no',
        ]
      : []),
  ];
  // 'wx': a restart (or a second start on the same dir) keeps the file as Redis left it.
  await writeFile(configFileOf(config.dir), lines.map((l) => `${l}\n`).join(''), {
    flag: 'wx',
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  if (options.replicaOf !== undefined) await setReplicaOf(config.dir, options.replicaOf);
  return new RedisProcess(config, await launch(config), launch);
}

/**
 * Sets the role in the config file of the (stopped) server in `dir`: a replica of `primary`, or
 * a primary (null). The rest of the file stays as Redis or Sentinel last wrote it.
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

/** Whether the config file in `dir` makes its server a replica; undefined when there is none. */
export async function isReplicaByConfig(dir: string): Promise<boolean | undefined> {
  const text = await readFile(configFileOf(dir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : /^(replicaof|slaveof) /im.test(text);
}

/** A Redis server, or a Sentinel (a Redis server in sentinel mode), owned by PID. */
export class RedisProcess<C extends { host: string; port: number; dir: string } = RedisConfig>
  extends OwnedServer<C>
  implements RedisServer
{
  readonly url: string;

  constructor(config: C, server: ManagedProcess, launcher: (config: C) => Promise<ManagedProcess>) {
    super(config, server, launcher);
    this.url = `redis://${config.host}:${config.port}`;
  }

  async stop(): Promise<void> {
    await this.server.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
  }

  async kill(): Promise<void> {
    await this.server.kill();
  }
}

/**
 * Everything that differs from Redis' defaults is on the command line, except what a server's
 * role is (replicaof, cluster-*): that is in its config file, which Redis may rewrite.
 */
async function launch(config: RedisConfig): Promise<ManagedProcess> {
  return launchRedis(config, 'redis-server', [
    configFileOf(config.dir),
    ...['--port', String(config.port), '--bind', config.host, '--dir', config.dir],
    ...['--save', ''], // no RDB snapshots: the append-only file is the persistence under test
    ...['--appendonly', config.appendOnly ? 'yes' : 'no', '--appendfsync', 'everysec'],
    ...['--daemonize', 'no', '--protected-mode', 'yes'],
  ]);
}

/**
 * Starts `redis-server` with `args` (a server, or a Sentinel with `--sentinel`) and waits until
 * the process it spawned answers PING on its port.
 */
export async function launchRedis(
  config: {
    dir: string;
    host: string;
    port: number;
    readyTimeoutMs: number;
    ledger?: ProcessLedger;
  },
  name: string,
  args: string[],
): Promise<ManagedProcess> {
  const server = await ManagedProcess.start({
    name,
    command: 'redis-server',
    args,
    cwd: config.dir,
    logFile: join(config.dir, 'redis.log'),
    ledger: config.ledger,
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
 * One command to the server on 127.0.0.1:`port`, on a connection of its own. Rejects at once
 * when nothing answers there (node-redis would otherwise retry the connect forever).
 */
export async function askRedis<T>(port: number, command: string[]): Promise<T> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, connectTimeout: 1000, reconnectStrategy: false },
  });
  client.on('error', () => undefined); // a refused connect rejects connect() below
  await client.connect();
  try {
    return await client.sendCommand<T>(command);
  } finally {
    client.destroy();
  }
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
      port: await ctx.ports.take('redis'),
      appendOnly: true,
      readyTimeoutMs: ctx.readyTimeoutMs,
      ledger: ctx.ledger,
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
