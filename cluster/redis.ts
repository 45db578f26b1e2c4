import { OwnedServer, type ServerProcess } from './server-process.js';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { redisProcessId } from './redis-probe.js';

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
