/**
 * Redis without a single point of failure, the Sentinel way: a primary, one replica, and three
 * Sentinels that watch the primary and, when a quorum of two agrees it is down, promote the
 * replica and tell the clients (node-redis' createSentinel follows). A restarted old primary is
 * turned into a replica of the new one by the Sentinels.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { dependsOn, note } from '../compose-file.js';
import type { ProcessLedger } from '../process/ledger.js';
import { errorMessage, pollUntil } from '../process/poll.js';
import type { PortBook } from '../work-dir.js';
import {
  askRedis,
  isReplicaByConfig,
  launchRedis,
  RedisProcess,
  setReplicaOf,
  startRedis,
  type RedisServer,
} from './redis.js';
import { observeRedis } from './redis-observer.js';
import { serverMember, type Member, type ServicePlugin } from './service.js';

/** The name the Sentinels monitor the primary by (REDIS_SENTINEL_NAME). */
export const SENTINEL_NAME = 'scaled-login';
const QUORUM = 2;
/**
 * How long the primary must be silent before a Sentinel calls it down. A demo value: Sentinel's
 * default is 30 s (a GC pause or a busy network must not cause a failover in production);
 * Redis' own Sentinel tests use 2 s. See the README's redis-ha section.
 */
export const DOWN_AFTER_MS = 1000;
/** How long a failover may take before another Sentinel may retry it (default 3 min). */
const FAILOVER_TIMEOUT_MS = 10_000;

interface SentinelConfig {
  dir: string;
  host: string;
  port: number;
  readyTimeoutMs: number;
  ledger?: ProcessLedger;
}

const SERVERS = ['redis-1', 'redis-2'] as const;
const SENTINELS = ['sentinel-1', 'sentinel-2', 'sentinel-3'] as const;
/** A member's entry in the work dir's port book. */
const portName = (member: string) => `redis-ha/${member}`;

/**
 * A Sentinel: `redis-server --sentinel` (the same binary; Debian's redis-sentinel package is only
 * that link). Its config file is written anew at each start of the setup, naming the primary the
 * setup starts with; Sentinel rewrites it with what it learns (the current primary, the replicas,
 * the other Sentinels), so a Sentinel restarted on its own knows all that, and the next start of
 * the setup reads from it who was primary last (`lastPrimary`).
 */
async function startSentinel(config: SentinelConfig, primary: RedisServer): Promise<RedisServer> {
  const lines = [
    `port ${config.port}`,
    `bind ${config.host}`,
    `dir ${config.dir}`,
    `sentinel monitor ${SENTINEL_NAME} ${primary.host} ${primary.port} ${QUORUM}`,
    `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
  ];
  await mkdir(config.dir, { recursive: true });
  await writeFile(join(config.dir, 'sentinel.conf'), lines.map((l) => `${l}\n`).join(''));
  const launch = (c: SentinelConfig) =>
    launchRedis(c, 'redis-sentinel', [join(c.dir, 'sentinel.conf'), '--sentinel']);
  return new RedisProcess(config, await launch(config), launch);
}

/** A Sentinel's view of the primary (SENTINEL MASTER: a map, node-redis speaks RESP3). */
const sentinelView = (port: number) =>
  askRedis<Record<string, string>>(port, ['SENTINEL', 'MASTER', SENTINEL_NAME]);

/** The primary's port, as the first Sentinel that answers sees it. */
export async function primaryPort(sentinelPorts: number[]): Promise<number> {
  let last: unknown;
  for (const port of sentinelPorts) {
    try {
      const [, primary] = await askRedis<[string, string]>(port, [
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        SENTINEL_NAME,
      ]);
      return Number(primary);
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no Sentinel answered: ${errorMessage(last)}`);
}

/**
 * What a supervisor does before it restarts a Redis server of a Sentinel setup: ask the Sentinels
 * who the primary is and, if it is another server, start this one as its replica. Otherwise an
 * old primary would come back as a second primary until the Sentinels notice it (some 8 s) and,
 * worse, a primary restarted before the failover would resync its replica to what its own
 * append-only file kept (up to a second less than the replica had).
 */
async function followPrimary(server: RedisServer, sentinelPorts: number[]): Promise<void> {
  const port = await primaryPort(sentinelPorts).catch(() => undefined);
  if (port === undefined || port === server.port) return;
  await setReplicaOf(server.dir, { host: server.host, port });
}

/**
 * Which server was the primary when the setup last ran, from what it left in `dir`. First what
 * the Sentinels said last (the monitored address with the highest config epoch: a failover
 * rewrites it), mapped to a member by the ports of the last run; else the one server whose own
 * config file does not make it a replica (a state dir without the port book); else redis-1 (a
 * new setup). The servers' roles alone can't tell it after a failover whose old primary stayed
 * down: neither config file then names a primary.
 */
export async function lastPrimary(
  dir: string,
  ports: Pick<PortBook, 'previous'>,
): Promise<(typeof SERVERS)[number]> {
  let best: { epoch: number; port: number } | undefined;
  for (const sentinel of SENTINELS) {
    const text = await readFile(join(dir, sentinel, 'sentinel.conf'), 'utf8').catch(() => '');
    const monitor = new RegExp(`^sentinel monitor ${SENTINEL_NAME} \\S+ (\\d+)`, 'm').exec(text);
    const epoch = new RegExp(`^sentinel config-epoch ${SENTINEL_NAME} (\\d+)`, 'm').exec(text);
    if (!monitor) continue;
    const seen = { epoch: Number(epoch?.[1] ?? 0), port: Number(monitor[1]) };
    if (!best || seen.epoch > best.epoch) best = seen;
  }
  const byPort = SERVERS.find((s) => best && ports.previous(portName(s)) === best.port);
  if (byPort) return byPort;
  const replica = await Promise.all(SERVERS.map((s) => isReplicaByConfig(join(dir, s))));
  const primaries = SERVERS.filter((_, i) => replica[i] === false);
  return primaries.length === 1 ? primaries[0] : SERVERS[0];
}

/** Polls until `check` holds; throws `what` when it did not within `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const outcome = await pollUntil(check, { timeoutMs, intervalMs: 200 });
  if (!outcome.ok) {
    const why = outcome.lastError ? `: ${errorMessage(outcome.lastError)}` : '';
    throw new Error(`redis-ha: ${what} within ${timeoutMs} ms${why}`);
  }
}

export const redisHaService: ServicePlugin = {
  name: 'redis-ha',

  async start(ctx) {
    const dir = join(ctx.workDir, 'redis-ha');
    const readyTimeoutMs = ctx.readyTimeoutMs;
    const members: Member[] = [];
    const servers: RedisServer[] = [];
    const sentinelPorts: number[] = [];
    const redisMember = (name: string, server: RedisServer) =>
      serverMember(name, 'redis', server, join(server.dir, 'redis.log'), {
        beforeRestart: () => followPrimary(server, sentinelPorts),
      });
    try {
      // Start in the roles the setup had when it last ran: the primary first, the other server
      // as its replica. Both ports are the last run's where free; the roles are written anew.
      const first = await lastPrimary(dir, ctx.ports);
      const order = first === 'redis-1' ? SERVERS : ([...SERVERS].reverse() as string[]);
      let primary: RedisServer | undefined;
      for (const name of order) {
        const server = await startRedis({
          dir: join(dir, name),
          port: await ctx.ports.take(portName(name)),
          replicaOf: primary ? { host: primary.host, port: primary.port } : null,
          readyTimeoutMs,
          ledger: ctx.ledger,
        });
        primary ??= server;
        servers.push(server);
        members.push(redisMember(name, server));
      }
      const replica = servers[1];
      // The status table lists redis-1 before redis-2, whichever is primary now.
      members.sort((a, b) => a.name.localeCompare(b.name));
      for (const name of SENTINELS) {
        const sentinel = await startSentinel(
          {
            dir: resolve(dir, name), // Sentinel wants an absolute dir
            host: '127.0.0.1',
            port: await ctx.ports.take(portName(name)),
            readyTimeoutMs,
            ledger: ctx.ledger,
          },
          servers[0],
        );
        servers.push(sentinel);
        members.push(serverMember(name, 'sentinel', sentinel, join(sentinel.dir, 'redis.log')));
      }
      const sentinels = servers.slice(2);
      sentinelPorts.push(...sentinels.map((s) => s.port));
      // A failover needs the replica in sync and every Sentinel knowing the replica and the
      // other two (they find each other through the primary, every 2 s): wait for both.
      await waitFor('the replica did not sync', readyTimeoutMs, async () =>
        /master_link_status:up/.test(await askRedis<string>(replica.port, ['INFO', 'replication'])),
      );
      await waitFor('the Sentinels did not find each other', readyTimeoutMs, async () => {
        const views = await Promise.all(sentinels.map((s) => sentinelView(s.port)));
        return views.every((v) => v['num-slaves'] === '1' && v['num-other-sentinels'] === '2');
      });
      const memberAt = (port: number) => members.find((m) => m.port === port)?.name;
      return {
        members,
        env: {
          REDIS_SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
          REDIS_SENTINEL_NAME: SENTINEL_NAME,
        },
        observe: async () => observeRedis(`redis://127.0.0.1:${await primaryPort(sentinelPorts)}`),
        failover: async () => {
          const port = await primaryPort(sentinelPorts);
          const primary = memberAt(port);
          if (!primary) throw new Error(`the Sentinels name a primary on port ${port}: not ours`);
          return { primary, replica: primary === 'redis-1' ? 'redis-2' : 'redis-1' };
        },
      };
    } catch (error) {
      for (const s of servers.reverse()) await s.stop().catch(() => undefined);
      throw error;
    }
  },

  compose(file) {
    const server = (n: number, comment: string, replicaOf?: string) =>
      file.service(
        `redis-ha-${n}`,
        {
          image: 'redis:7-alpine',
          restart: 'unless-stopped',
          command: note(
            'The role (replicaof) goes into the config file on the volume once: Sentinel rewrites\n' +
              'that file when it changes a role, so a restarted server keeps the role it was given.',
            [
              'sh',
              '-c',
              `test -f /data/redis.conf || printf '${replicaOf ? `replicaof ${replicaOf} 6379\\n` : ''}replica-announce-ip redis-ha-${n}\\n' > /data/redis.conf; ` +
                // What followPrimary does natively: a primary elsewhere makes this its replica.
                `P=$$(redis-cli -h redis-ha-sentinel-1 -p 26379 sentinel get-master-addr-by-name ${SENTINEL_NAME} 2>/dev/null | head -1); ` +
                `if [ -n "$$P" ] && [ "$$P" != redis-ha-${n} ]; then sed -i '/^replicaof /d' /data/redis.conf; echo "replicaof $$P 6379" >> /data/redis.conf; fi; ` +
                'exec redis-server /data/redis.conf --appendonly yes --appendfsync everysec',
            ],
          ),
          volumes: [`redis-ha-${n}-data:/data`],
          healthcheck: {
            test: ['CMD-SHELL', 'redis-cli ping | grep -q PONG'],
            interval: '2s',
            timeout: '3s',
            retries: 30,
          },
        },
        comment,
      );
    server(1, 'redis-ha: the primary at first (Sentinel may promote the other one).');
    server(2, 'redis-ha: a replica of redis-ha-1 at first.', 'redis-ha-1');
    file.volume('redis-ha-1-data');
    file.volume('redis-ha-2-data');
    const sentinelConf = [
      'port 26379',
      'dir /data',
      'sentinel resolve-hostnames yes',
      'sentinel announce-hostnames yes',
      `sentinel monitor ${SENTINEL_NAME} redis-ha-1 6379 ${QUORUM}`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
    ];
    for (const n of [1, 2, 3]) {
      file.service(
        `redis-ha-sentinel-${n}`,
        {
          image: 'redis:7-alpine',
          restart: 'unless-stopped',
          command: note(
            'Sentinel rewrites its config file with what it learns: it lives on the volume.',
            [
              'sh',
              '-c',
              `test -f /data/sentinel.conf || printf '${[...sentinelConf, `sentinel announce-ip redis-ha-sentinel-${n}`].join('\\n')}\\n' > /data/sentinel.conf; ` +
                'exec redis-server /data/sentinel.conf --sentinel',
            ],
          ),
          volumes: [`redis-ha-sentinel-${n}-data:/data`],
          depends_on: dependsOn({ 'redis-ha-1': 'service_healthy' }),
          healthcheck: {
            test: ['CMD-SHELL', 'redis-cli -p 26379 ping | grep -q PONG'],
            interval: '2s',
            timeout: '3s',
            retries: 30,
          },
        },
        n === 1
          ? `redis-ha: three Sentinels, quorum ${QUORUM}; down after ${DOWN_AFTER_MS} ms (a demo value: the default is 30 s).`
          : undefined,
      );
      file.volume(`redis-ha-sentinel-${n}-data`);
    }
    return {
      env: {
        REDIS_SENTINELS: [1, 2, 3].map((n) => `redis-ha-sentinel-${n}:26379`).join(','),
        REDIS_SENTINEL_NAME: SENTINEL_NAME,
      },
      waitFor: [
        'redis-ha-1',
        'redis-ha-2',
        'redis-ha-sentinel-1',
        'redis-ha-sentinel-2',
        'redis-ha-sentinel-3',
      ],
    };
  },
};
