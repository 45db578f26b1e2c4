/**
 * Redis Cluster: three masters, each with two replicas (nine servers), created at start with
 * `redis-cli --cluster create`. The 16384 hash slots are split over the masters; a session is one
 * key, so it lives on one master (and its replicas). When a master is silent for the node
 * timeout, the others mark it failed and a replica takes its slots over; the other replica
 * follows it. `scale-store` adds masters (each with two replicas) while it serves: `add-node`,
 * then `rebalance` moves slots to them live, key by key (MIGRATE), while the clients follow MOVED
 * and ASK.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defined } from '../../src/common/defined.js';
import { runToCompletion } from '../process/managed-process.js';
import { errorMessage, pollUntil } from '../process/poll.js';
import { nativeProgram } from '../process/programs.js';
import type { JobDescription, Place } from './description.js';
import { describeRedis, REDIS_IMAGE } from './redis.js';
import { observeRedisServers } from './redis-observer.js';
import { askRedis } from './redis-protocol.js';
import type { RunningServer, ServicePlugin, StartContext } from './service.js';

/** Masters at the start. */
const MASTERS = 3;
/**
 * Replicas per master: two, so that the replica promoted after a master's crash still has one,
 * and durable logins (WAIT 1) on its slots go on without the old master.
 */
const REPLICAS = 2;
/** Nodes per shard: a master and its replicas. */
const SHARD = 1 + REPLICAS;
/** As many as scale-store may grow it to. */
const MAX_MASTERS = 6;
/**
 * How long a master may be silent before the cluster calls it failed and a replica takes
 * over (after a further 0.5–1 s). A demo value, like redis-ha's: the default is 15 s.
 */
export const NODE_TIMEOUT_MS = 1000;
/** A node's cluster bus listens on its port + 10000, which must be a port too, and free. */
const BUS_OFFSET = 10000;
const nodeName = (i: number) => `redis-${i + 1}`;
/** Every node's name: SHARD per master (as created; then the shards added by scale). */
const nodeNames = (place: Place) =>
  Array.from({ length: SHARD * (place.storeShards?.('redis-cluster') ?? MASTERS) }, (_, i) =>
    nodeName(i),
  );
const keyOf = (node: string) => `redis-cluster/${node}`;
const serviceOf = (node: string) => `redis-cluster-${node.slice('redis-'.length)}`;

/**
 * What the nodes' own state files (nodes.conf, which Redis writes) say of the cluster when it
 * starts: none formed yet, or all its nodes of one formed cluster. Before the nodes start, it
 * points every node's entries at the ports the nodes have now: nodes.conf addresses the others
 * by the ports of the run that wrote it, and a node whose port changed (taken meanwhile, or a
 * state dir from before the runner kept ports) would be unreachable to the rest. Anything in
 * between (some nodes in a cluster, some not) is refused with what to do.
 */
export async function prepareNodeState(
  dir: string,
  ports: readonly number[],
): Promise<'new' | 'formed'> {
  const NODES = ports.length;
  const files = ports.map((_, i) => join(dir, nodeName(i), 'nodes.conf'));
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')));
  const nodeLines = (text: string) =>
    text.split('\n').filter((line) => /^[0-9a-f]{40} /.test(line));
  const known = texts.map((t) => nodeLines(t).length);
  if (known.every((k) => k <= 1)) return 'new';
  // A cluster formed by the first `formed` nodes, all of them. Nodes after them are new (a state
  // from a run with fewer replicas per master): `started` adds them as replicas.
  // That prefix is either every node or the layout of one replica per master (SHARD was 2).
  const formed = known.filter((k) => k > 1).length;
  const olderLayout = formed === (2 * NODES) / SHARD;
  if (
    !(formed === NODES || olderLayout) ||
    !known.every((k, i) => (i < formed ? k === formed : k <= 1))
  )
    throw new Error(
      `redis-cluster: the state in ${dir} is partial (nodes know ${known.join(', ')} of ${NODES} nodes): ` +
        'discard it with npm run cluster -- --fresh (or remove that folder)',
    );
  // Each node's id is on its own "myself" line; it gets that node's port now.
  const portOf = new Map<string, number>();
  // Only the formed nodes: a new node's file (if it started once) names just itself.
  texts.slice(0, formed).forEach((text, i) => {
    const [id] =
      nodeLines(text)
        .map((line) => line.split(' '))
        .find(([, , flags = '']) => flags.split(',').includes('myself')) ?? [];
    if (id) portOf.set(id, defined(ports[i], `${nodeName(i)}'s port`));
  });
  if (portOf.size !== formed)
    throw new Error(
      `redis-cluster: the nodes.conf files in ${dir} do not name ${formed} different nodes: ` +
        'discard the state with npm run cluster -- --fresh',
    );
  await Promise.all(
    texts.map(async (text, i) => {
      const moved = text
        .split('\n')
        .map((line) => {
          const [id = '', address, ...rest] = line.split(' ');
          const port = portOf.get(id);
          if (port === undefined || address === undefined) return line;
          // ip:port@cport[,hostname]: only the ports change.
          const at = address.replace(/:\d+@\d+/, `:${port}@${port + BUS_OFFSET}`);
          return [id, at, ...rest].join(' ');
        })
        .join('\n');
      if (moved !== text) await writeFile(defined(files[i], `${nodeName(i)}'s nodes.conf`), moved);
    }),
  );
  return 'formed';
}

/** One node's CLUSTER NODES line, the parts used here. */
export interface ClusterNode {
  id: string;
  /** A replica's master's id; '-' for a master. */
  masterId: string;
  port: number;
  master: boolean;
  failed: boolean;
  /** Slot ranges it serves (masters), e.g. [[0, 5460]]. */
  slots: Array<[number, number]>;
}

/** The cluster as the first node in `ports` that answers sees it (CLUSTER NODES). */
export async function clusterNodes(ports: number[]): Promise<ClusterNode[]> {
  let last: unknown;
  for (const port of ports) {
    try {
      const text = await askRedis<string>(port, ['CLUSTER', 'NODES']);
      return text
        .trim()
        .split('\n')
        .flatMap((line) => {
          const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
          // Redis writes eight fields at least; a line with fewer is not a node.
          if (
            id === undefined ||
            address === undefined ||
            flags === undefined ||
            masterId === undefined
          )
            return [];
          return {
            id,
            masterId,
            port: Number(/:(\d+)@/.exec(address)?.[1]),
            master: flags.split(',').includes('master'),
            failed: /fail/.test(flags),
            slots: slots
              .filter((s) => !s.startsWith('['))
              .map((s): [number, number] => {
                const [from, to = from] = s.split('-');
                return [Number(from), Number(to)];
              }),
          };
        });
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no Redis Cluster node answered: ${errorMessage(last)}`);
}

/**
 * Whether every node agrees on one healthy cluster within `timeoutMs`: each says
 * cluster_state:ok and knows every node, every replica's link to its master is up, and (unless
 * new masters wait for their slots) a live master per shard serves slots.
 */
async function agreed(
  ports: number[],
  timeoutMs: number,
  o: { nodes?: number; emptyMasters?: boolean } = {},
): Promise<boolean> {
  /** Nodes of the cluster, down ones included (they stay known). */
  const NODES = o.nodes ?? ports.length;
  const outcome = await pollUntil(
    async () => {
      for (const port of ports) {
        const info = await askRedis<string>(port, ['CLUSTER', 'INFO']);
        if (
          !/cluster_state:ok/.test(info) ||
          !new RegExp(`cluster_known_nodes:${NODES}\\b`).test(info)
        )
          return false;
        const repl = await askRedis<string>(port, ['INFO', 'replication']);
        if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
      }
      return o.emptyMasters || liveMasters(await clusterNodes(ports)).length === NODES / SHARD;
    },
    { timeoutMs, intervalMs: 200 },
  );
  return outcome.ok;
}

/** redis-cli's arguments that add `replica` to the cluster `seed` is in, as `masterId`'s replica. */
const addReplica = (replica: { port: number }, masterId: string, seed: string) => [
  'add-node',
  `127.0.0.1:${replica.port}`,
  seed,
  ...['--cluster-slave', '--cluster-master-id', masterId],
];

/** The masters serving slots now. */
export const liveMasters = (nodes: ClusterNode[]) =>
  nodes.filter((n) => n.master && !n.failed && n.slots.length > 0);

/** The nodes, and the job that makes them one cluster the first time. */
async function describeNodes(place: Place) {
  const nodes = await Promise.all(
    nodeNames(place).map((name, i) =>
      describeRedis(place, {
        name,
        service: serviceOf(name),
        key: keyOf(name),
        cluster: { nodeTimeoutMs: NODE_TIMEOUT_MS },
        busOffset: BUS_OFFSET,
        comment:
          i === 0
            ? `redis-cluster: ${SHARD * MASTERS} nodes; node timeout ${NODE_TIMEOUT_MS} ms (a demo value: the default is 15 s).`
            : undefined,
      }),
    ),
  );
  const first = defined(nodes[0], 'the first node');
  // The first three become masters, the others their replicas; slots split evenly. A cluster
  // formed before comes back by itself, from the nodes' state files: its first node serves slots.
  const create: JobDescription = {
    service: 'redis-cluster-create',
    image: REDIS_IMAGE,
    command: [
      'redis-cli',
      ...['--cluster', 'create'],
      // CLUSTER MEET takes addresses, not names.
      ...nodes.map((n) => `${place.ip(n.service)}:${n.port}`),
      ...['--cluster-replicas', String(REPLICAS), '--cluster-yes'],
    ],
    unless: {
      service: first.service,
      port: first.port,
      redis: ['CLUSTER', 'INFO'],
      contains: 'cluster_slots_assigned:16384',
    },
    after: nodes.map((n) => n.service),
    comment: 'redis-cluster: creates the cluster on first start.',
  };
  return { nodes, create };
}

/** redis-cli --cluster, run to completion, logged in the work dir's logs. */
async function runRedisCli(ctx: StartContext, what: string, args: string[]) {
  return runToCompletion(
    {
      name: `redis-cli ${what}`,
      command: await nativeProgram('redis-cli'),
      args: ['--cluster', ...args],
      logFile: join(ctx.place.logDir, 'redis-cluster-scale.log'),
      ledger: ctx.place.ledger,
    },
    5 * 60_000,
  );
}

/**
 * Nodes that know only themselves next to a formed cluster (a work dir from a run with fewer
 * replicas per master): each joins as a replica of the master with the fewest, so every master
 * ends with REPLICAS. A new cluster has none (its create job ran).
 */
async function joinNewReplicas(nodes: RunningServer[], ctx: StartContext): Promise<void> {
  const alone = await Promise.all(
    nodes.map(async (n) =>
      /cluster_known_nodes:1\b/.test(await askRedis<string>(n.port, ['CLUSTER', 'INFO'])),
    ),
  );
  const joining = nodes.filter((_, i) => alone[i]);
  const members = nodes.filter((_, i) => !alone[i]);
  const [seedNode] = members;
  if (joining.length === 0 || !seedNode) return;
  const settle = async (what: string) => {
    const all = { nodes: members.length, emptyMasters: true };
    if (
      !(await agreed(
        members.map((m) => m.port),
        ctx.readyTimeoutMs,
        all,
      ))
    )
      throw new Error(`redis-cluster: ${what} within ${ctx.readyTimeoutMs} ms`);
  };
  await settle('the formed nodes did not agree');
  // Counted once and kept here: gossip may not yet show a replica that just joined.
  const known = await clusterNodes(members.map((m) => m.port));
  const masters = liveMasters(known).map((m) => ({
    ...m,
    replicas: known.filter((n) => n.masterId === m.id).length,
  }));
  if (masters.length === 0)
    throw new Error('redis-cluster: no live master to join the new nodes to');
  for (const node of joining) {
    const master = masters.reduce((a, b) => (b.replicas < a.replicas ? b : a));
    const seed = `127.0.0.1:${seedNode.port}`;
    await runRedisCli(ctx, `add-node ${node.name}`, addReplica(node, master.id, seed));
    master.replicas++;
    members.push(node);
    await settle(`${node.name} was not taken in`);
    const name = nodes.find((n) => n.port === master.port)?.name ?? master.port;
    ctx.progress(`redis-cluster: ${node.name} joined as a replica of ${name}`);
  }
}

export const redisClusterService: ServicePlugin = {
  name: 'redis-cluster',
  grows: true,

  async describe(place) {
    const { nodes, create } = await describeNodes(place);
    return {
      units: [...nodes, create],
      env: {
        // Seeds: the client learns the rest (and nodes added later) from the cluster itself.
        REDIS_CLUSTER_NODES: nodes
          .slice(0, SHARD * MASTERS)
          .map((n) => `${place.host(n.service)}:${n.port}`)
          .join(','),
      },
    };
  },

  async restore(place) {
    const ports = await Promise.all(
      nodeNames(place).map((n) => place.port(keyOf(n), 6379, { keep: true, plus: BUS_OFFSET })),
    );
    await prepareNodeState(place.dir('redis-cluster', ''), ports);
  },

  async started(servers, ctx) {
    const nodes = [...servers.values()];
    const ports = nodes.map((s) => s.port);
    await joinNewReplicas(nodes, ctx);
    if (!(await agreed(ports, ctx.readyTimeoutMs)))
      throw new Error('redis-cluster: the nodes did not agree on a cluster in time');
    // A restarted node answers PING before the cluster has taken it back (or finished failing
    // its slots over): the restart is done when every node agrees again.
    const waitAfterRestart = (node: RunningServer) => {
      node.afterRestart = async () => {
        // Nodes another test or fault has stopped are not waited for.
        const running = nodes.filter((s) => s.running).map((s) => s.port);
        if (!(await agreed(running, ctx.readyTimeoutMs, { nodes: nodes.length })))
          throw new Error(`redis-cluster: no agreement again after restarting ${node.name}`);
      };
    };
    nodes.forEach(waitAfterRestart);
    const memberAt = (port: number) => nodes.find((m) => m.port === port)?.name;
    const redisCli = (what: string, args: string[]) => runRedisCli(ctx, what, args);
    return {
      observe: async () => {
        const masters = await observeRedisServers(
          liveMasters(await clusterNodes(ports)).map((m) => `redis://127.0.0.1:${m.port}`),
          'Redis Cluster masters',
        );
        // Asked anew each time: masters a scale-store added count too.
        const keysPerServer = async () => {
          const live = liveMasters(await clusterNodes(ports));
          const counts = await Promise.all(
            live.map(async (m): Promise<[string, number]> => [
              memberAt(m.port) ?? String(m.port),
              await askRedis<number>(m.port, ['DBSIZE']),
            ]),
          );
          return Object.fromEntries(counts);
        };
        const sessionCount = async () =>
          Object.values(await keysPerServer()).reduce((a, b) => a + b, 0);
        return { ...masters, keysPerServer, sessionCount };
      },
      grow: {
        shard: `master (with ${REPLICAS} replicas)`,
        // A shard whose join failed halfway counts once all its nodes are in.
        shards: () => Math.floor(nodes.length / SHARD),
        max: MAX_MASTERS,
        async join(added, say) {
          const live = nodes.find((s) => s.running);
          if (!live) throw new Error('redis-cluster: no node runs to add the new ones through');
          const seed = `127.0.0.1:${live.port}`;
          // redis-cli refuses to add a node while the others disagree on who is in the cluster:
          // every node learns of each newcomer (gossip) before the next one is added.
          const learn = async (node: RunningServer) => {
            nodes.push(node);
            ports.push(node.port);
            waitAfterRestart(node);
            const running = nodes.filter((s) => s.running).map((s) => s.port);
            const all = { nodes: nodes.length, emptyMasters: true };
            if (!(await agreed(running, ctx.readyTimeoutMs, all)))
              throw new Error(`redis-cluster: the nodes did not all learn of ${node.name} in time`);
          };
          // Each new shard: the master joins empty, its replicas join as its replicas.
          const joining = [...added.values()];
          for (let i = 0; i + SHARD <= joining.length; i += SHARD) {
            const [first, ...replicas] = joining.slice(i, i + SHARD);
            const master = defined(first, "the new shard's master");
            await redisCli(`add-node ${master.name}`, [
              'add-node',
              `127.0.0.1:${master.port}`,
              seed,
            ]);
            await learn(master);
            const id = await askRedis<string>(master.port, ['CLUSTER', 'MYID']);
            for (const replica of replicas) {
              await redisCli(`add-node ${replica.name}`, addReplica(replica, id, seed));
              await learn(replica);
            }
            const names = replicas.map((r) => r.name).join(' and ');
            say(`${master.name} joined as a master, ${names} as its replicas`);
          }
          const running = nodes.filter((s) => s.running).map((s) => s.port);
          const all = { nodes: nodes.length };
          say('moving slots to the new masters (rebalance: key by key, while clients read) …');
          await redisCli('rebalance', ['rebalance', seed, '--cluster-use-empty-masters']);
          if (!(await agreed(running, ctx.readyTimeoutMs, all)))
            throw new Error('redis-cluster: no agreement after moving the slots');
          const masters = liveMasters(await clusterNodes(running));
          say(
            `slots per master: ${masters
              .map(
                (m) =>
                  `${memberAt(m.port) ?? m.port} ${m.slots.reduce((n, [a, b]) => n + b - a + 1, 0)}`,
              )
              .join(', ')}`,
          );
        },
      },
      // The master that serves slot 0, and its replicas (while it has some).
      failover: async () => {
        const all = await clusterNodes(ports);
        const master = liveMasters(all).find((m) => m.slots.some(([from]) => from === 0));
        const primary = master && memberAt(master.port);
        if (!primary) throw new Error('no live master serves slot 0');
        const replicas = all.filter((n) => n.masterId === master.id && !n.failed);
        return { primary, replicas: replicas.flatMap((r) => memberAt(r.port) ?? []) };
      },
    };
  },
};
