/**
 * Scaling with replicas: for N = 2, 3, 4, 6 replicas of one profile, what an operation costs —
 * replica CPU per read and per write (replication included), replica heap per 10k sessions on
 * each replica, and, for profiles with a peer channel, peer messages, bytes and channel CPU per
 * write. On two cores throughput cannot grow with N, so cost per operation is what is compared,
 * the writes at a fixed rate the largest cluster takes easily: the sources'
 * "all-to-all is not for more than ~4 servers" and "a separate store scales best" as curves.
 * Each size is a cluster of its own; its clients log in, read through nginx, then edit their
 * profile through nginx (so writes land on every replica in turn). Idle CPU (heartbeats, timers)
 * over as long is taken off.
 */
import { sleep } from '../../cluster/process/poll.js';
import { backendOf, profileOf } from '../../cluster/profiles.js';
import { onSchedule, runLoad } from '../load.js';
import { cpuSnapshot } from '../probes.js';
import type { ScalingPoint } from '../results.js';
import { prepareSubject, type Subject } from '../subject.js';
import { startTopology, type RunningTopology, type TopologySpec } from '../topology.js';
import { measureMemory } from './memory.js';
import {
  dataBytes,
  dataMessages,
  dataWork,
  peerStatsOf,
  total,
  type PeerCounters,
} from './peer-stats.js';

const replicaCpuMs = (snapshot: Awaited<ReturnType<typeof cpuSnapshot>>) =>
  snapshot.parts.get('replicas') ?? 0;

export interface ScalingOptions {
  sizes: number[];
  /** Logged-in clients per cluster. */
  clients: number;
  /** Seconds of whoami load. */
  readSeconds: number;
  /** Profile edits, in all. */
  writes: number;
  /**
   * The edits' rate, kept well below what the largest cluster can take: CPU per write is then
   * the write's own cost at every size, not how much more the cores are fought over with more
   * processes (which back-to-back edits measure as well).
   */
  writesPerSecond: number;
  /** New sessions for the memory reading. */
  sessions: number;
}

/** CPU the replicas used while `work` ran, less what they use idle over as long (ms). */
async function busyCpu(s: Subject, idlePerMs: number, work: () => Promise<void>): Promise<number> {
  const before = await cpuSnapshot(s.topology.cluster);
  await work();
  const after = await cpuSnapshot(s.topology.cluster);
  return Math.max(
    0,
    replicaCpuMs(after) - replicaCpuMs(before) - idlePerMs * (after.at - before.at),
  );
}

async function measureSize(
  topology: RunningTopology,
  replicas: number,
  o: ScalingOptions,
): Promise<ScalingPoint> {
  const s = await prepareSubject(topology, o.clients);
  try {
    const peerChannel = backendOf(profileOf(topology.spec.profile)).peerChannel === true;
    const idle0 = await cpuSnapshot(topology.cluster);
    await sleep(1000);
    const idle1 = await cpuSnapshot(topology.cluster);
    const idlePerMs = (replicaCpuMs(idle1) - replicaCpuMs(idle0)) / (idle1.at - idle0.at);

    let reads = 0;
    const readCpu = await busyCpu(s, idlePerMs, async () => {
      reads = (
        await runLoad(s.clients, {
          path: '/api/whoami',
          warmupMs: 0,
          durationMs: o.readSeconds * 1000,
        })
      ).requests;
    });

    const stats0 = peerChannel ? await peerStatsOf<PeerCounters>(s) : undefined;
    let written = 0;
    const writeCpu = await busyCpu(s, idlePerMs, async () => {
      const each = Math.ceil(o.writes / s.clients.length);
      await onSchedule(
        s.clients,
        { ratePerSecond: o.writesPerSecond, each },
        async (client, i, k) => {
          const reply = await client.send('PATCH', '/api/me', { displayName: `n${i}-${k}` });
          if (reply.status !== 200) throw new Error(`a write answered ${reply.status}`);
          written++;
        },
      );
    });
    const stats1 = peerChannel ? await peerStatsOf<PeerCounters>(s) : undefined;

    const memory = await measureMemory(s, o.sessions);
    return {
      replicas,
      reads,
      writes: written,
      replicaCpuMicrosPerRead: reads ? (readCpu / reads) * 1000 : NaN,
      replicaCpuMsPerWrite: written ? writeCpu / written : NaN,
      heapPer10kPerReplica: memory.replicas ? memory.replicas.heapGrowthPer10k / replicas : NaN,
      ...(stats0 && stats1
        ? {
            peerMessagesPerWrite:
              (total(stats1, dataMessages) - total(stats0, dataMessages)) / written,
            peerBytesPerWrite: (total(stats1, dataBytes) - total(stats0, dataBytes)) / written,
            peerWorkMicrosPerWrite: (total(stats1, dataWork) - total(stats0, dataWork)) / written,
          }
        : {}),
    };
  } finally {
    await s.close();
  }
}

export async function measureReplicaScaling(
  spec: TopologySpec,
  appEnv: Record<string, string>,
  o: ScalingOptions,
  say: (line: string) => void,
): Promise<ScalingPoint[]> {
  const points: ScalingPoint[] = [];
  for (const replicas of o.sizes) {
    const topology = await startTopology(spec, appEnv, () => undefined, { replicas });
    try {
      const p = await measureSize(topology, replicas, o);
      points.push(p);
      const peer =
        p.peerMessagesPerWrite === undefined
          ? ''
          : `, ${p.peerMessagesPerWrite.toFixed(2)} peer messages (${Math.round(p.peerBytesPerWrite ?? 0)} B, ` +
            `${Math.round(p.peerWorkMicrosPerWrite ?? 0)} µs of channel CPU) per write`;
      say(
        `${replicas} replicas: ${Math.round(p.replicaCpuMicrosPerRead)} µs CPU per read, ` +
          `${p.replicaCpuMsPerWrite.toFixed(2)} ms per write${peer}, ` +
          `${(p.heapPer10kPerReplica / 2 ** 20).toFixed(1)} MiB heap per replica per 10k sessions`,
      );
    } finally {
      await topology.stop();
    }
  }
  return points;
}
