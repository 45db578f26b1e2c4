/**
 * The sources' comparison table (source 004: complexity, scalability, failure handling,
 * performance, resource use — each "low / medium / high") re-derived from one run's figures, and
 * the "which one should I use" advice that follows from them. Every rating names the figure it
 * rests on and the rule that turned it into a word, so a reader can disagree with the rule.
 */
import type { BenchResult, FaultCell, ScalingPoint, TopologyResult } from './results.js';
import { fmt, int } from './targets.js';

export type Level = 'low' | 'medium' | 'high';

export interface Rating {
  level: Level | undefined;
  /** The figure it rests on. */
  basis: string;
}

export interface ProfileRatings {
  name: string;
  complexity: Rating;
  scalability: Rating;
  failureHandling: Rating;
  performance: Rating;
  resourceUse: Rating;
}

/** How each column's level is decided: printed under the table. */
export const RULES = {
  complexity:
    'processes the profile adds to Postgres + replicas + nginx, and lines of session code: low = no added process and < 400 lines; high = ≥ 3 added processes or ≥ 1,500 lines',
  scalability:
    'replica CPU per write at the largest cluster size ÷ at the smallest (a cluster per size): high ≤ 1.3×, medium ≤ 2×, low above; a profile that piles one NAT’s clients on one replica is low',
  failureHandling:
    'the fault matrix: high = no fault lost a session; medium = only a restart of the store’s servers did; low = a replica fault did',
  performance:
    'whoami throughput ÷ the fastest profile’s in the same run: high ≥ 0.8, medium ≥ 0.6, low below',
  resourceUse:
    'memory per session, all copies together (replica heap growth + store used memory): low < 2 KB, medium < 8 KB, high above',
};

function complexityOf(t: TopologyResult): Rating {
  const lines = t.complexity.sessionCode.reduce((n, c) => n + c.lines, 0);
  const stores = t.complexity.processes.length - 2 - t.replicas.length; // minus postgres, nginx
  const level: Level =
    stores <= 0 && lines < 400 ? 'low' : stores >= 3 || lines >= 1500 ? 'high' : 'medium';
  return {
    level,
    basis: `${stores > 0 ? `+${stores} ${t.complexity.stores.join(', ')} processes` : 'no store process'}, ${int(lines)} lines of session code`,
  };
}

function scalingRatio(points: ScalingPoint[]): number | undefined {
  const [first, ...larger] = [...points].sort((a, b) => a.replicas - b.replicas);
  const last = larger.at(-1);
  if (!first || !last) return undefined; // fewer than two sizes
  const ratio = last.replicaCpuMsPerWrite / first.replicaCpuMsPerWrite;
  return Number.isFinite(ratio) ? ratio : undefined;
}

function scalabilityOf(t: TopologyResult): Rating {
  const points = t.replicaScaling ?? [];
  const ratio = scalingRatio(points);
  const natPiles = t.nat !== undefined && t.nat.skew === null;
  if (natPiles) return { level: 'low', basis: 'one NAT’s clients all on one replica' };
  if (ratio === undefined) return { level: undefined, basis: 'no scaling run' };
  const sizes = points.map((p) => p.replicas);
  return {
    level: ratio <= 1.3 ? 'high' : ratio <= 2 ? 'medium' : 'low',
    basis: `CPU per write ×${fmt(ratio, 2)} from ${Math.min(...sizes)} to ${Math.max(...sizes)} replicas`,
  };
}

const REPLICA_FAULTS = ['replica-kill', 'replica-term', 'rolling-restart', 'partition'];

function failureHandlingOf(t: TopologyResult): Rating {
  const cells: FaultCell[] = t.faults ?? [];
  if (!cells.length) return { level: undefined, basis: 'no fault measured' };
  const lossy = cells.filter((c) => c.sessionsLost > 0);
  const replicaLoss = lossy.filter((c) => REPLICA_FAULTS.includes(c.fault));
  const level: Level = !lossy.length ? 'high' : replicaLoss.length ? 'low' : 'medium';
  const basis = lossy.length
    ? `sessions lost on ${lossy.map((c) => c.fault).join(', ')}`
    : `no session lost in ${cells.length} fault${cells.length > 1 ? 's' : ''}`;
  return { level, basis };
}

function performanceOf(t: TopologyResult, fastest: number): Rating {
  const share = t.throughput.rps / fastest;
  return {
    level: share >= 0.8 ? 'high' : share >= 0.6 ? 'medium' : 'low',
    basis: `${int(t.throughput.rps)} req/s, ${fmt(share, 2)} of the fastest`,
  };
}

/** Bytes per session in every copy: the replicas' heap growth and the store's used memory. */
export function bytesPerSession(t: TopologyResult): number | undefined {
  const m = t.memory;
  if (!m || !m.sessionsCreated || !m.replicas) return undefined;
  const heap = Math.max(0, m.replicas.heapGrowthPer10k / 10_000);
  const store =
    m.store && Number.isFinite(m.store.usedMemoryPerSession) ? m.store.usedMemoryPerSession : 0;
  return heap + Math.max(0, store);
}

function resourceUseOf(t: TopologyResult): Rating {
  const bytes = bytesPerSession(t);
  if (bytes === undefined) return { level: undefined, basis: 'memory not measured' };
  return {
    level: bytes < 2048 ? 'low' : bytes < 8192 ? 'medium' : 'high',
    basis: `${int(bytes)} B per session in all copies`,
  };
}

export function rateProfiles(r: BenchResult): ProfileRatings[] {
  const profiles = r.topologies.filter((t) => t.kind === 'profile');
  const fastest = Math.max(...profiles.map((t) => t.throughput.rps), 1e-9);
  return profiles.map((t) => ({
    name: t.name,
    complexity: complexityOf(t),
    scalability: scalabilityOf(t),
    failureHandling: failureHandlingOf(t),
    performance: performanceOf(t, fastest),
    resourceUse: resourceUseOf(t),
  }));
}

const cellOf = (c: FaultCell[] | undefined, fault: string) => c?.find((x) => x.fault === fault);

/**
 * "Which one should I use": the questions a team asks, each answered with the profiles whose
 * figures qualify (never a fixed list).
 */
export function recommendations(r: BenchResult): string[] {
  const profiles = r.topologies.filter((t) => t.kind === 'profile');
  const names = (ts: TopologyResult[]) =>
    ts.length ? ts.map((t) => `\`${t.name}\``).join(', ') : 'none in this run';
  const processes = (t: TopologyResult) => t.complexity.processes.length;
  const byFewestProcesses = (ts: TopologyResult[]) =>
    [...ts].sort((a, b) => processes(a) - processes(b) || b.throughput.rps - a.throughput.rps);

  const crashSafe = profiles.filter((t) => {
    const kill = cellOf(t.faults, 'replica-kill');
    return kill ? kill.sessionsLost === 0 : t.kill ? t.kill.loggedOut === 0 : false;
  });
  const deploySafe = profiles.filter((t) => {
    const rolling = cellOf(t.faults, 'rolling-restart');
    return rolling !== undefined && rolling.sessionsLost === 0;
  });
  const storeSafe = crashSafe.filter((t) => {
    const restart = cellOf(t.faults, 'store-restart');
    const failover = cellOf(t.faults, 'store-failover');
    return (!restart || restart.sessionsLost === 0) && (!failover || failover.sessionsLost === 0);
  });
  const scaleSafe = profiles.filter((t) => {
    const scale = cellOf(t.faults, 'scale');
    return scale !== undefined && scale.loggedOut === 0 && scale.sessionsLost === 0;
  });
  const natSafe = profiles.filter((t) => t.nat && t.nat.skew !== null);
  const fastest = [...profiles].sort((a, b) => b.throughput.rps - a.throughput.rps);
  const simplestSafe = byFewestProcesses(crashSafe)[0];

  const lines = [
    `- **A replica may crash and nobody may be logged out:** ${names(crashSafe)}. Every other profile keeps sessions where the crashed process was.`,
    `- **Deploys (a rolling restart) may not log anyone out:** ${names(deploySafe)}${deploySafe.length ? '' : ' (no rolling restart measured in this run)'}.`,
    `- **The replica count may change while users are logged in (an autoscaler) without logging anyone out:** ${names(scaleSafe)}${profiles.some((t) => cellOf(t.faults, 'scale')) ? '' : ' (no scaling event measured in this run)'}.`,
    `- **The session store may restart or fail over without logging anyone out, too:** ${names(storeSafe)}.`,
    `- **Many users behind one address (an office NAT, a mobile carrier) must not pile on one replica:** ${names(natSafe)}.`,
    `- **Fastest authenticated reads in this run:** ${names(fastest.slice(0, 3))} (${fastest
      .slice(0, 3)
      .map((t) => `${int(t.throughput.rps)} req/s`)
      .join(', ')}).`,
  ];
  if (simplestSafe) {
    lines.push(
      `- **Fewest moving parts that survive a replica crash:** \`${simplestSafe.name}\` (${processes(simplestSafe)} processes in all).`,
    );
  }
  return lines;
}
