/**
 * What the replicas of a peer-channel profile count about their replication (GET /health/ready →
 * sessionStore.stats), read by the measurements that need it: replication (measurement 8),
 * backup (T10) and scaling with replicas. Counters are cumulative: take two readings, subtract.
 */
import { runLoad } from '../load.js';
import type { Subject } from '../subject.js';

/** What every peer-channel backend reports; each adds its own fields (T: the full shape). */
export interface PeerCounters {
  /** Messages sent, by message type ('delta', 'created', 'accessed', ...). */
  sent: Record<string, number>;
  /** Bytes sent, by frame kind ('msg', 'req', 'res', 'beat'). */
  bytesSent: Record<string, number>;
  /** µs spent sealing and sending, opening and handling frames, by frame kind. */
  workMicros: Record<string, number>;
}

export async function peerStatsOf<T extends PeerCounters>(
  s: Subject,
  replicas: readonly string[] = s.replicas,
): Promise<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const r of replicas) {
    const res = await fetch(`${s.topology.cluster.replicaUrl(r)}/health/ready`);
    const body = (await res.json()) as { checks: { sessionStore: { stats?: T } } };
    const stats = body.checks.sessionStore.stats;
    if (!stats) throw new Error(`${r} reports no replication stats`);
    out[r] = stats;
  }
  return out;
}

/** `pick` summed over the replicas of one reading. */
export const total = <T>(stats: Record<string, T>, pick: (p: T) => number): number =>
  Object.values(stats).reduce((n, p) => n + pick(p), 0);

/** Messages that carry data: every type but the batched last-seen times ('accessed'). */
export const dataMessages = (p: PeerCounters): number =>
  Object.entries(p.sent)
    .filter(([type]) => type !== 'accessed')
    .reduce((n, [, count]) => n + count, 0);

/** Bytes of the frames that carry data: messages and requests, heartbeats and replies apart. */
export const dataBytes = (p: PeerCounters): number =>
  (p.bytesSent.msg ?? 0) + (p.bytesSent.req ?? 0);

/** µs of channel work on the frames that carry data, heartbeats apart (sender and receiver). */
export const dataWork = (p: PeerCounters): number =>
  (p.workMicros.msg ?? 0) + (p.workMicros.req ?? 0) + (p.workMicros.res ?? 0);

/**
 * The read-only window both replication measurements start with: the whoami load alone, the
 * counters read around it. T9 and T10 want 0 data messages per read.
 */
export async function readWindow<T extends PeerCounters>(s: Subject, durationMs: number) {
  const before = await peerStatsOf<T>(s);
  const reads = await runLoad(s.clients, { path: '/api/whoami', warmupMs: 0, durationMs });
  const after = await peerStatsOf<T>(s);
  return {
    reads: reads.requests,
    before,
    after,
    messagesPerRead: (total(after, dataMessages) - total(before, dataMessages)) / reads.requests,
  };
}
