import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { note } from '../compose-file.js';
import type { ProcessLedger } from '../process/ledger.js';
import { ManagedProcess } from '../process/managed-process.js';
import { OwnedServer, type ServerProcess } from '../process/server-process.js';
import { isRoot } from '../process/system-user.js';
import { memcachedStats } from './memcached-protocol.js';
import { observeMemcached } from './memcached-observer.js';
import { nodeName, serverMember, type ServicePlugin } from './service.js';

/** Nodes of the memcached profile: enough to show that a dead one takes only its share along. */
export const MEMCACHED_NODES = 2;

export interface MemcachedOptions {
  /** Holds the log. Created if missing. */
  dir: string;
  port: number;
  /** Loopback only by default: memcached has no authentication here. */
  host?: string;
  /** Memory for items, in MiB. */
  memoryMb?: number;
  readyTimeoutMs?: number;
  /** Where its PID is kept while it runs (a cluster's work dir). */
  ledger?: ProcessLedger;
}

type MemcachedConfig = Required<Omit<MemcachedOptions, 'ledger'>> & { ledger?: ProcessLedger };

export async function startMemcached(options: MemcachedOptions): Promise<ServerProcess> {
  const config: MemcachedConfig = {
    dir: resolve(options.dir),
    port: options.port,
    host: options.host ?? '127.0.0.1',
    memoryMb: options.memoryMb ?? 64,
    readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
    ledger: options.ledger,
  };
  await mkdir(config.dir, { recursive: true });
  return new MemcachedProcess(config, await launch(config));
}

class MemcachedProcess extends OwnedServer<MemcachedConfig> {
  readonly url: string;

  constructor(config: MemcachedConfig, server: ManagedProcess) {
    super(config, server, launch);
    this.url = `memcached://${config.host}:${config.port}`;
  }

  /** Everything is in memory: a clean stop loses the items as surely as a crash. */
  async stop(): Promise<void> {
    await this.server.stop({ signal: 'SIGTERM', timeoutMs: 5_000 });
  }

  async kill(): Promise<void> {
    await this.server.kill();
  }
}

/** Arguments only: everything that differs from memcached's defaults is visible here. */
async function launch(config: MemcachedConfig): Promise<ManagedProcess> {
  const server = await ManagedProcess.start({
    name: 'memcached',
    command: 'memcached',
    args: [
      ...['--port', String(config.port), '--listen', config.host, '--udp-port', '0'],
      ...['--memory-limit', String(config.memoryMb), '--threads', '2'],
      // It refuses to run as root without a user to switch to.
      ...(isRoot() ? ['--user', 'nobody'] : []),
    ],
    cwd: config.dir,
    logFile: join(config.dir, 'memcached.log'),
    ledger: config.ledger,
  });
  // The PID tells the node we spawned from another one that already held the port.
  await server.waitUntilReady(
    async () => (await memcachedStats(config.host, config.port)).get('pid') === server.pid,
    {
      timeoutMs: config.readyTimeoutMs,
      what: `answers stats on ${config.host}:${config.port} as pid ${server.pid}`,
    },
  );
  return server;
}

const nodeNames = Array.from({ length: MEMCACHED_NODES }, (_, i) => nodeName('memcached', i + 1));

/**
 * Memcached nodes for the memcached backend, each its own member (killable and restartable on
 * its own). No persistence and no replication, by design: a node restarts empty.
 */
export const memcachedService: ServicePlugin = {
  name: 'memcached',

  async start(ctx) {
    const nodes: ServerProcess[] = [];
    try {
      for (const name of nodeNames) {
        nodes.push(
          await startMemcached({
            dir: join(ctx.workDir, name),
            port: await ctx.ports.take(name),
            ledger: ctx.ledger,
            readyTimeoutMs: ctx.readyTimeoutMs,
          }),
        );
      }
    } catch (error) {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      throw error;
    }
    return {
      members: nodes.map((n, i) =>
        serverMember(nodeNames[i], 'memcached', n, join(n.dir, 'memcached.log')),
      ),
      env: { MEMCACHED_SERVERS: nodes.map((n) => `${n.host}:${n.port}`).join(',') },
      observe: async () => observeMemcached(nodes),
    };
  },

  compose(file) {
    for (const name of nodeNames) {
      file.service(
        name,
        {
          image: 'memcached:1.6-alpine',
          restart: 'unless-stopped',
          command: note('64 MiB for items; no persistence, no replication: by design.', [
            'memcached',
            '--memory-limit',
            '64',
          ]),
          healthcheck: {
            test: ['CMD-SHELL', 'echo stats | nc -w 1 127.0.0.1 11211 | grep -q "STAT pid"'],
            interval: '2s',
            timeout: '3s',
            retries: 30,
          },
        },
        name === nodeNames[0]
          ? 'Memcached nodes for the memcached profile: each session on one node, chosen by the replicas.'
          : undefined,
      );
    }
    return {
      env: { MEMCACHED_SERVERS: nodeNames.map((n) => `${n}:11211`).join(',') },
      waitFor: [...nodeNames],
    };
  },
};
