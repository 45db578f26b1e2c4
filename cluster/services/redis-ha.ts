/**
 * Redis without a single point of failure, the Sentinel way: a primary, two replicas, and three
 * Sentinels that watch the primary and, when a quorum of two agrees it is down, promote a
 * replica and tell the clients (node-redis' createSentinel follows). Two replicas, so that after
 * one failure the new primary still has one: durable logins (`WAIT 1`) keep working. A restarted old primary is
 * turned into a replica of the new one: by the Sentinels, and sooner by its own `prepare`, which
 * asks them who is primary before it starts.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defined } from '../../src/common/defined.js';
import { errorMessage, pollUntil } from '../process/poll.js';
import type { PortBook } from '../work-dir.js';
import type { Place, ServerDescription } from './description.js';
import {
  describeRedis,
  ensureRoleFile,
  isReplicaByConfig,
  REDIS_IMAGE,
  setReplicaOf,
} from './redis.js';
import { observeRedis } from './redis-observer.js';
import { askRedis } from './redis-protocol.js';
import type { ServicePlugin } from './service.js';

/** The name the Sentinels monitor the primary by (REDIS_SENTINEL_NAME). */
export const SENTINEL_NAME = 'scaled-login';
const QUORUM = 2;
/**
 * How long the primary must be silent before a Sentinel calls it down. A demo value: Sentinel's
 * default is 30 s (a GC pause or a busy network must not cause a failover in production);
 * Redis' own Sentinel tests use 2 s.
 */
export const DOWN_AFTER_MS = 1000;
/**
 * How long a failover may take before another Sentinel may retry it (default 3 min). A Sentinel
 * that started one also starts no other for the same primary within twice this.
 */
const FAILOVER_TIMEOUT_MS = 10_000;
const SENTINEL_PORT = 26379;

const SERVERS = ['redis-1', 'redis-2', 'redis-3'] as const;
const SENTINELS = ['sentinel-1', 'sentinel-2', 'sentinel-3'] as const;
/** A member's port book and state dir key. */
const keyOf = (member: string) => `redis-ha/${member}`;
/** A member's network name: redis-ha-1, redis-ha-sentinel-1. */
const serviceOf = (member: string) => `redis-ha-${member.replace(/^redis-/, '')}`;

interface Address {
  host: string;
  port: number;
}

/** The primary as the first Sentinel that answers sees it. */
export async function primaryAddress(sentinels: readonly Address[]): Promise<Address> {
  let last: unknown;
  for (const { host, port } of sentinels) {
    try {
      const [primaryHost, primaryPort] = await askRedis<[string, string]>(
        port,
        ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME],
        host,
      );
      return { host: primaryHost, port: Number(primaryPort) };
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no Sentinel answered: ${errorMessage(last)}`);
}

/** A Sentinel's view of the primary (SENTINEL MASTER: a map, node-redis speaks RESP3). */
const sentinelView = (port: number) =>
  askRedis<Record<string, string>>(port, ['SENTINEL', 'MASTER', SENTINEL_NAME]);

/**
 * Which server was the primary when the setup last ran, from what it left in `dir`. First what
 * the Sentinels said last (the monitored address with the highest config epoch: a failover
 * rewrites it), mapped to a member by the ports of the last run; else the one server whose own
 * config file does not make it a replica (a state dir without the port book); else redis-1 (a
 * new setup). The servers' roles alone can't tell it after a failover whose old primary stayed
 * down: neither its config file nor the promoted replica's then names a primary.
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
  const byPort = SERVERS.find((s) => best && ports.previous(keyOf(s)) === best.port);
  if (byPort) return byPort;
  const replica = await Promise.all(SERVERS.map((s) => isReplicaByConfig(join(dir, s))));
  const primaries = SERVERS.filter((_, i) => replica[i] === false);
  return primaries.length === 1 ? defined(primaries[0], 'the one primary') : SERVERS[0];
}

/** Polls until `check` holds; throws `what` when it did not within `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const outcome = await pollUntil(check, { timeoutMs, intervalMs: 200 });
  if (!outcome.ok) {
    const why = outcome.lastError ? `: ${errorMessage(outcome.lastError)}` : '';
    throw new Error(`redis-ha: ${what} within ${timeoutMs} ms${why}`);
  }
}

/**
 * The servers and Sentinels of the setup. Natively the setup starts in the roles it had when it
 * last ran (the primary first); in compose the role files on the volumes keep them.
 */
async function describeSetup(place: Place) {
  const first =
    place.portsMove && place.previousPort
      ? await lastPrimary(place.dir('redis-ha', ''), { previous: (k) => place.previousPort?.(k) })
      : SERVERS[0];
  const others = SERVERS.filter((s) => s !== first);
  const sentinels = await Promise.all(
    SENTINELS.map(async (name) => ({
      name,
      host: place.host(serviceOf(name)),
      port: await place.port(keyOf(name), SENTINEL_PORT, { keep: true }),
    })),
  );
  const servers: ServerDescription[] = [];
  for (const name of [first, ...others]) {
    const service = serviceOf(name);
    const dir = place.dir(keyOf(name), '/data');
    let started = false;
    const server = await describeRedis(place, {
      name,
      service,
      key: keyOf(name),
      roleFile: true,
      after: name === first ? [] : [serviceOf(first)],
      comment: `redis-ha: ${name === first ? 'the primary at first' : `a replica of ${serviceOf(first)} at first`} (Sentinel may promote a replica).`,
      // Before every start: ask the Sentinels who the primary is and, if it is another server,
      // start as its replica. Otherwise an old primary would come back as a second primary until
      // the Sentinels notice it (some 8 s). When no Sentinel answers (the setup is starting),
      // the role is the one the setup starts with: written anew natively (ports may have moved),
      // kept in compose unless the file is new.
      prepare: async () => {
        const setupStart = !started;
        started = true;
        const created = await ensureRoleFile(
          dir,
          place.byName ? [`replica-announce-ip ${service}`] : [],
        );
        const told = await primaryAddress(
          sentinels.map((s) => ({ ...s, host: place.runnerHost?.(serviceOf(s.name)) ?? s.host })),
        ).catch(() => undefined);
        const me = { host: place.host(service), port: server.port };
        if (told) {
          if (told.host !== me.host || told.port !== me.port) await setReplicaOf(dir, told);
          return;
        }
        if (created || (setupStart && place.portsMove))
          await setReplicaOf(dir, name === first ? null : primary);
      },
    });
    servers.push(server);
  }
  const atFirst = defined(servers[0], 'the primary at first');
  const primary = { host: place.host(atFirst.service), port: atFirst.port };
  // Natively redis-1, redis-2, redis-3 in the status table, whichever is primary now.
  servers.sort((a, b) => a.name.localeCompare(b.name));
  const sentinelUnits = sentinels.map(({ name, port }) =>
    describeSentinel(
      place,
      name,
      port,
      primary,
      servers.map((s) => s.service),
    ),
  );
  return { servers, sentinels: sentinelUnits, sentinelAddresses: sentinels };
}

/**
 * A Sentinel: `redis-server <file> --sentinel` (the same binary; Debian's redis-sentinel package
 * is only that link). Sentinel rewrites its file with what it learns (the current primary, the
 * replicas, the other Sentinels), so one restarted on its own knows all that. Natively the file
 * is written anew at each start of the setup (ports may have moved); in compose once.
 */
function describeSentinel(
  place: Place,
  name: string,
  port: number,
  primary: Address,
  servers: string[],
): ServerDescription {
  const service = serviceOf(name);
  const dir = place.dir(keyOf(name), '/data');
  const file = join(dir, 'sentinel.conf');
  let started = false;
  return {
    name,
    service,
    kind: 'sentinel',
    image: REDIS_IMAGE,
    command: ['redis-server', file, '--sentinel', '--port', String(port), '--bind', place.bind],
    port,
    ready: { kind: 'redis', port },
    stop: { signal: 'SIGTERM', timeoutMs: 10_000 },
    state: { dir, volume: `${service}-data` },
    after: servers,
    comment:
      name === SENTINELS[0]
        ? `redis-ha: three Sentinels, quorum ${QUORUM}; down after ${DOWN_AFTER_MS} ms (a demo value: the default is 30 s).`
        : undefined,
    prepare: async () => {
      const setupStart = !started;
      started = true;
      const exists = await access(file).then(
        () => true,
        () => false,
      );
      if (exists && !(setupStart && place.portsMove)) return;
      const lines = [
        `dir ${dir}`,
        ...(place.byName
          ? [
              'sentinel resolve-hostnames yes',
              'sentinel announce-hostnames yes',
              `sentinel announce-ip ${service}`,
            ]
          : []),
        `sentinel monitor ${SENTINEL_NAME} ${primary.host} ${primary.port} ${QUORUM}`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
      ];
      await writeFile(file, lines.map((l) => `${l}\n`).join(''));
    },
  };
}

export const redisHaService: ServicePlugin = {
  name: 'redis-ha',

  async describe(place) {
    const { servers, sentinels, sentinelAddresses } = await describeSetup(place);
    return {
      units: [...servers, ...sentinels],
      env: {
        REDIS_SENTINELS: sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(','),
        REDIS_SENTINEL_NAME: SENTINEL_NAME,
      },
    };
  },

  async started(members, ctx) {
    const timeoutMs = ctx.readyTimeoutMs;
    const all = [...members.values()];
    const sentinels = all.filter((m) => m.kind === 'sentinel');
    const servers = all.filter((m) => m.kind === 'redis');
    const primaryPort = async () => (await primaryAddress(sentinels)).port;
    // A failover needs the replicas in sync and every Sentinel knowing them and the other two
    // (they find each other through the primary, every 2 s): wait for both.
    await waitFor('the replicas did not sync', timeoutMs, async () => {
      const primary = await primaryPort();
      const infos = await Promise.all(
        servers
          .filter((s) => s.port !== primary)
          .map((s) => askRedis<string>(s.port, ['INFO', 'replication'])),
      );
      return infos.every((info) => /master_link_status:up/.test(info));
    });
    const replicas = String(servers.length - 1);
    await waitFor('the Sentinels did not find each other', timeoutMs, async () => {
      const views = await Promise.all(sentinels.map((s) => sentinelView(s.port)));
      return views.every((v) => v['num-slaves'] === replicas && v['num-other-sentinels'] === '2');
    });
    // When a failover was last seen to end (a new primary named): measured from there, the
    // Sentinels' retry delay is over a little later than it is, never earlier.
    let lastPrimary: string | undefined;
    let failedOverAt = -Infinity;
    return {
      observe: async () => observeRedis(`redis://127.0.0.1:${await primaryPort()}`),
      failover: async () => {
        const port = await primaryPort();
        const primary = servers.find((s) => s.port === port)?.name;
        if (!primary) throw new Error(`the Sentinels name a primary on port ${port}: not ours`);
        if (lastPrimary !== undefined && primary !== lastPrimary) failedOverAt = Date.now();
        lastPrimary = primary;
        const againInMs = Math.ceil(failedOverAt + 2 * FAILOVER_TIMEOUT_MS - Date.now());
        return {
          primary,
          replicas: servers.filter((s) => s.name !== primary).map((s) => s.name),
          ...(againInMs > 0 ? { againInMs } : {}),
        };
      },
    };
  },
};
