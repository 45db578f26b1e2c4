/**
 * Replica CPU per write for 2, 3, 4 and 6 replicas (profiles with a peer channel): the sources'
 * "not for more than ~4 servers" as a curve. Each size is its own cluster; one logged-in client
 * edits its profile through nginx (so writes land on every replica in turn), and the replicas'
 * CPU over the writes, less what they use idle (heartbeats) over as long, is divided by them.
 */
import { sleep } from '../../cluster/process/poll.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { clientAddress } from '../load.js';
import { cpuSnapshot } from '../probes.js';
import type { ScalingPoint } from '../results.js';
import { startTopology, type TopologySpec } from '../topology.js';
import { cheapPasswordHash, logIn, seedUsers } from '../users.js';

const replicaCpuMs = (snapshot: Awaited<ReturnType<typeof cpuSnapshot>>) =>
  snapshot.parts.get('replicas') ?? 0;

export async function measureReplicaScaling(
  spec: TopologySpec,
  appEnv: Record<string, string>,
  o: { sizes: number[]; writes: number },
  say: (line: string) => void,
): Promise<ScalingPoint[]> {
  const points: ScalingPoint[] = [];
  const hash = await cheapPasswordHash();
  for (const replicas of o.sizes) {
    const topology = await startTopology(spec, appEnv, () => undefined, replicas);
    const client = new VirtualClient(topology.cluster.url, clientAddress(0));
    try {
      const users = await seedUsers(topology.postgresUrl, 'scale', 1, hash);
      await logIn([client], users, 1);
      const idle0 = await cpuSnapshot(topology.cluster);
      await sleep(1000);
      const idle1 = await cpuSnapshot(topology.cluster);
      const idlePerMs = (replicaCpuMs(idle1) - replicaCpuMs(idle0)) / (idle1.at - idle0.at);
      const before = await cpuSnapshot(topology.cluster);
      for (let i = 0; i < o.writes; i++) {
        const reply = await client.send('PATCH', '/api/me', { displayName: `n${replicas}-${i}` });
        if (reply.status !== 200) throw new Error(`write ${i} answered ${reply.status}`);
      }
      const after = await cpuSnapshot(topology.cluster);
      const busy = replicaCpuMs(after) - replicaCpuMs(before) - idlePerMs * (after.at - before.at);
      points.push({
        replicas,
        writes: o.writes,
        replicaCpuMsPerWrite: Math.max(0, busy) / o.writes,
      });
      say(`${replicas} replicas: ${(busy / o.writes).toFixed(2)} ms replica CPU per write`);
    } finally {
      client.close();
      await topology.stop();
    }
  }
  return points;
}
