/**
 * Replication over a real network: for a row whose replicas replicate to each other, the
 * replication lag and the replicas' CPU per write on loopback, then in the runner's network mode
 * (every member in a namespace of its own) with links of one data centre and of two. Profile
 * edits only, on one replica at a fixed rate, no read load: what the link adds, nothing else. A
 * cluster each; root only (the network mode needs it).
 */
import { LINK_DELAY_DEFAULT, type LinkDelay } from '../../cluster/network/delay.js';
import { defined } from '../../src/common/defined.js';
import { lagQuantile } from '../../src/replication/core/lag-histogram.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { onSchedule } from '../load.js';
import { cpuDelta, cpuSnapshot } from '../probes.js';
import type { LinkResult } from '../results.js';
import { prepareSubject, type Subject } from '../subject.js';
import { startTopology, type TopologySpec } from '../topology.js';
import { peerStatsOf, type PeerCounters } from './peer-stats.js';

/** Loopback, then each packet between two members held this long (one way, ± a fifth). */
export const LINKS: ReadonlyArray<{ label: string; delay?: LinkDelay }> = [
  { label: 'loopback' },
  { label: '0.5 ms round trip (one data centre)', delay: LINK_DELAY_DEFAULT },
  { label: '5 ms round trip (two data centres)', delay: { ms: 2.5, jitterMs: 0.5 } },
];

interface LagStats extends PeerCounters {
  lagBuckets: Record<number, number>;
}

/** Edits on the first replica for `durationMs`; the lag read on the others. */
async function editWindow(
  s: Subject,
  o: { durationMs: number; writesPerSecond: number },
): Promise<Omit<LinkResult, 'link' | 'delayMs'>> {
  const [home, ...others] = s.replicas;
  const writers = s.clients.map((c) => {
    const direct = new VirtualClient(
      s.topology.cluster.replicaUrl(defined(home, 'a replica')),
      '127.0.0.1',
    );
    for (const [k, v] of c.cookies) direct.cookies.set(k, v);
    return direct;
  });
  const lagOf = async () => {
    const stats = await peerStatsOf<LagStats>(s, others);
    const merged: Record<number, number> = {};
    for (const p of Object.values(stats))
      for (const [i, n] of Object.entries(p.lagBuckets))
        merged[Number(i)] = (merged[Number(i)] ?? 0) + n;
    return merged;
  };
  // What the replicas burn idle (heartbeats, timers) over as long: not the writes' cost.
  const idle0 = await cpuSnapshot(s.topology.cluster);
  await new Promise((resolve) => setTimeout(resolve, o.durationMs));
  const idle = cpuDelta(idle0, await cpuSnapshot(s.topology.cluster)).replicas ?? 0;
  const lag0 = await lagOf();
  const cpu0 = await cpuSnapshot(s.topology.cluster);
  let writes = 0;
  let stop = false;
  const timer = setTimeout(() => (stop = true), o.durationMs);
  try {
    await onSchedule(
      writers,
      { ratePerSecond: o.writesPerSecond, stop: () => stop },
      async (writer, w) => {
        const reply = await writer.send('PATCH', '/api/me', { displayName: `l${w}-${writes}` });
        if (reply.status === 200) writes++;
      },
    );
  } finally {
    clearTimeout(timer);
    for (const w of writers) w.close();
  }
  const cpu = cpuDelta(cpu0, await cpuSnapshot(s.topology.cluster));
  // Let the last edits arrive before the histograms are read.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const lag1 = await lagOf();
  const cores = Math.max(0, (cpu.replicas ?? 0) - idle);
  return {
    writes,
    lagP50: lagQuantile(lag0, lag1, 0.5),
    lagP99: lagQuantile(lag0, lag1, 0.99),
    replicaCpuMsPerWrite: writes ? (cores * o.durationMs) / writes : 0,
  };
}

export async function measureLinks(
  spec: TopologySpec,
  appEnv: Record<string, string>,
  o: { durationMs: number; writesPerSecond: number; clients: number; links: typeof LINKS },
  say: (line: string) => void,
): Promise<LinkResult[]> {
  const out: LinkResult[] = [];
  for (const link of o.links) {
    const topology = await startTopology(
      spec,
      appEnv,
      () => undefined,
      link.delay ? { network: 'netns', linkDelay: link.delay } : {},
    );
    let s: Subject | undefined;
    try {
      s = await prepareSubject(topology, o.clients);
      const r = await editWindow(s, o);
      say(
        `${link.label}: lag p50 ${r.lagP50.toFixed(2)} ms, p99 ${r.lagP99.toFixed(2)} ms, ` +
          `${r.replicaCpuMsPerWrite.toFixed(2)} ms of replica CPU per write (${r.writes} writes)`,
      );
      out.push({ link: link.label, delayMs: link.delay?.ms ?? 0, ...r });
    } finally {
      await s?.close();
      await topology.stop();
    }
  }
  return out;
}
