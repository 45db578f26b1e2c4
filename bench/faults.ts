/**
 * The faults of the fault matrix (issue: "each profile × each fault"). Each says where it applies
 * and how it is done to a running cluster; `recover` puts back what the fault took away once the
 * measured window is over (a killed replica restarted, a killed primary rejoining as a replica),
 * so the next fault starts from a whole cluster.
 */
import type { Cluster, NetworkFaults } from '../cluster/cluster.js';
import { applyFault, type NetworkFault } from '../cluster/faults/network-fault.js';
import { sleep } from '../cluster/process/poll.js';
import type { Row } from './traits.js';

/** The replica the replica faults hit: the same one the kill measurement uses. */
export const FAULT_REPLICA = 'app-2';
/** How long a partition (and any network fault) lasts before it heals. */
export const PARTITION_MS = 3000;
/** Slow link: what the hit members send waits this long (one way), a second data centre's. */
export const SLOW_LINK_MS = 20;
/** Loss: the share of packets the hit members lose. */
export const LOSS = 0.1;
/** The scaling event: from the cluster's 3 replicas out to the first size, then in to the second. */
export const SCALE_STEPS = [5, 2] as const;

export interface Fault {
  name: FaultName;
  /** A column head of the matrix. */
  label: string;
  /** What is done, for the report. */
  what: string;
  /** Where it means something: from the row's traits and what its store offers. */
  appliesTo(row: Row): boolean;
  /**
   * Needs the peer links to run through the runner's relays (which the benchmark's main clusters
   * do not use): measured on a cluster of its own.
   */
  needsPeerRelays?: true;
  /**
   * Needs the runner's network mode (root only: every member in a namespace of its own, faults
   * as kernel rules): measured on a cluster of its own, started so.
   */
  needsNetwork?: true;
  /** Too long for a quick run (a rolling restart: every replica in turn). */
  fullRunOnly?: true;
  /**
   * Does the fault (and, for faults that include their own repair, the repair). `note`: what
   * the fault saw happen, for the report (how soon new replicas served, copies per session).
   */
  inject(cluster: Cluster): Promise<{ recover?: () => Promise<void>; note?: string }>;
}

export type FaultName =
  | 'replica-kill'
  | 'replica-term'
  | 'rolling-restart'
  | 'scale'
  | 'partition'
  | 'store-failover'
  | 'store-restart'
  | 'store-scale'
  | 'net-partition'
  | 'net-slow'
  | 'net-loss';

const always = () => true;

export const faults: Fault[] = [
  {
    name: 'replica-kill',
    label: 'replica SIGKILL',
    what: `${FAULT_REPLICA} SIGKILLed; restarted after the window`,
    appliesTo: always,
    async inject(cluster) {
      await cluster.kill(FAULT_REPLICA);
      return { recover: () => cluster.rejoin(FAULT_REPLICA) };
    },
  },
  {
    name: 'replica-term',
    label: 'replica SIGTERM',
    what: `${FAULT_REPLICA} stopped gracefully (in-flight requests finish); restarted after the window`,
    appliesTo: always,
    async inject(cluster) {
      await cluster.stopMember(FAULT_REPLICA);
      return { recover: () => cluster.rejoin(FAULT_REPLICA) };
    },
  },
  {
    name: 'rolling-restart',
    label: 'rolling restart',
    what: 'every replica in turn: marked down in nginx, drained (SIGTERM), started, linked, taken back',
    fullRunOnly: true,
    appliesTo: always,
    async inject(cluster) {
      await cluster.rollingRestart();
      return {};
    },
  },
  {
    name: 'scale',
    label: `scale 3 → ${SCALE_STEPS.join(' → ')}`,
    what: `scaled out to ${SCALE_STEPS[0]} replicas (nginx takes them in once ready and linked), then in to ${SCALE_STEPS[1]} (each leaver drained); back to 3 after the window`,
    appliesTo: always,
    async inject(cluster) {
      const notes: string[] = [];
      for (const count of SCALE_STEPS) {
        const from = cluster.replicas.length;
        const said = await cluster.scale(count);
        const copies = await copiesPerSession(cluster);
        const ready = said.find((line) => line.includes(' ready in '));
        notes.push(
          [`${from} → ${count}`, ready, copies && `${copies.toFixed(2)} copies per session`]
            .filter(Boolean)
            .join(': '),
        );
      }
      return {
        note: notes.join('; '),
        recover: async () => {
          await cluster.scale(3);
        },
      };
    },
  },
  {
    name: 'partition',
    label: 'partition + heal',
    what: `${FAULT_REPLICA}'s peer links cut for ${PARTITION_MS / 1000} s, then healed (replication profiles)`,
    appliesTo: (row) => row.traits.peerChannel,
    needsPeerRelays: true,
    async inject(cluster) {
      await cluster.partition(FAULT_REPLICA);
      try {
        await sleep(PARTITION_MS);
      } finally {
        await cluster.heal();
      }
      return {};
    },
  },
  ...networkFaults(),
  {
    name: 'store-failover',
    label: 'store failover',
    what: "the store's primary (or slot 0's master) SIGKILLed; a replica takes over; restarted after the window",
    appliesTo: (row) => row.store.failsOver,
    async inject(cluster) {
      const pair = await cluster.storeFailover();
      if (!pair) throw new Error('the store does not fail over');
      await cluster.kill(pair.primary);
      return { recover: () => cluster.restart(pair.primary) };
    },
  },
  {
    name: 'store-restart',
    label: 'store restart',
    what: 'every server of the session store restarted, one after the other (crash and start)',
    appliesTo: (row) => row.traits.storeServices.length > 0,
    async inject(cluster) {
      for (const member of cluster.storeMembers()) {
        await cluster.kill(member);
        await cluster.restart(member);
      }
      return {};
    },
  },
  {
    // Last of the faults: it cannot be undone (stores take shards, they do not give them back
    // live), so every other fault runs on the store as it started (the kill measurement after
    // the matrix runs on the grown one).
    name: 'store-scale',
    label: 'store +1 shard',
    what: 'one more store shard (a memcached node, a Redis Cluster master with its two replicas) while it serves; where the replicas are told every server, they take the new list by a rolling restart',
    appliesTo: (row) => row.traits.guarantees.survivesStoreScaleOut !== undefined,
    async inject(cluster) {
      const shards = cluster.storeShards();
      if (shards === undefined) throw new Error('the store does not take new shards');
      const t0 = Date.now();
      const said = await cluster.scaleStore(shards + 1);
      const moved = said.find((line) => line.startsWith('slots per master'));
      return {
        note: [`${shards} → ${shards + 1} in ${((Date.now() - t0) / 1000).toFixed(1)} s`, moved]
          .filter(Boolean)
          .join('; '),
      };
    },
  },
];

export const faultNames = faults.map((f) => f.name);

/**
 * The faults a run measured on some row, in the matrix's order: its columns. A fault no row had
 * (the network mode's, in a run that was not root) gets no column rather than a row of n/a.
 */
export const measuredFaults = (topologies: ReadonlyArray<{ faults?: Array<{ fault: string }> }>) =>
  faults.filter((f) => topologies.some((t) => t.faults?.some((c) => c.fault === f.name)));

/**
 * The members a network fault hits: FAULT_REPLICA, and the store's primary where the store fails
 * over (its Sentinel setup or Cluster master: the one whose isolation Jepsen showed loses writes).
 */
async function hitBy(cluster: Cluster): Promise<string[]> {
  const pair = await cluster.storeFailover();
  return [FAULT_REPLICA, ...(pair ? [pair.primary] : [])];
}

/**
 * The faults of the network mode, for the rows that declare what they promise under them
 * (cluster/profiles.ts, networkFaults). Each lasts PARTITION_MS and then heals.
 */
function networkFaults(): Fault[] {
  const held = async (
    cluster: Cluster,
    fault: (hit: string[], faults: NetworkFaults) => NetworkFault[],
  ) => {
    const faults = cluster.faults;
    if (!faults) throw new Error('a network fault needs the network mode (--network netns)');
    const hit = await hitBy(cluster);
    try {
      for (const f of fault(hit, faults)) await applyFault(faults, f);
      await sleep(PARTITION_MS);
    } finally {
      await faults.heal();
    }
    return { note: `on ${hit.join(', ')}` };
  };
  const declared = (row: Row) => row.traits.networkPromises !== undefined;
  return [
    {
      name: 'net-partition',
      label: 'network partition',
      what: `${FAULT_REPLICA} (with the store's primary, where it fails over) cut off from the other replicas and the store's servers for ${PARTITION_MS / 1000} s, then healed (network mode; nginx reaches every side)`,
      appliesTo: declared,
      needsNetwork: true,
      inject: (cluster) =>
        held(cluster, (hit) => {
          const others = [...cluster.replicas, ...cluster.storeMembers()].filter(
            (m) => !hit.includes(m),
          );
          return [{ kind: 'partition', sides: [hit, others] }];
        }),
    },
    {
      name: 'net-slow',
      label: 'slow link',
      // A quick run does the network mode's partition only: each of these needs a cluster too.
      fullRunOnly: true,
      what: `what ${FAULT_REPLICA} (and the store's primary) send waits ${SLOW_LINK_MS} ms for ${PARTITION_MS / 1000} s (network mode)`,
      appliesTo: declared,
      needsNetwork: true,
      inject: (cluster) =>
        held(cluster, (hit) => hit.map((member) => ({ kind: 'slow', member, ms: SLOW_LINK_MS }))),
    },
    {
      name: 'net-loss',
      label: 'packet loss',
      fullRunOnly: true,
      what: `${FAULT_REPLICA} (and the store's primary) lose ${LOSS * 100}% of what they receive for ${PARTITION_MS / 1000} s (network mode)`,
      appliesTo: declared,
      needsNetwork: true,
      inject: (cluster) =>
        held(cluster, (hit) => hit.map((member) => ({ kind: 'loss', member, probability: LOSS }))),
    },
  ];
}

/**
 * Which of a profile's applicable faults a run measures. A full run: all of them. A quick run: at
 * most one per profile, a kind no profile before it has had, so that one quick run does every
 * kind (but the full-run-only ones) once.
 */
export function chooseFaults(applicable: Fault[], quick: boolean, done: Set<FaultName>): Fault[] {
  if (!quick) return applicable;
  const pick = applicable.find((f) => !f.fullRunOnly && !done.has(f.name));
  if (!pick) return [];
  done.add(pick.name);
  return [pick];
}

/**
 * Copies per session where replicas keep primaries and backups (each replica's own count, from
 * its readiness stats); undefined elsewhere.
 */
async function copiesPerSession(cluster: Cluster): Promise<number | undefined> {
  let primaries = 0;
  let copies = 0;
  for (const r of cluster.replicas) {
    const res = await fetch(`${cluster.replicaUrl(r)}/health/ready`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as {
      checks?: { sessionStore?: { stats?: { held?: { primary: number; backup: number } } } };
    };
    const held = body.checks?.sessionStore?.stats?.held;
    if (!held) return undefined;
    primaries += held.primary;
    copies += held.primary + held.backup;
  }
  return primaries ? copies / primaries : undefined;
}
