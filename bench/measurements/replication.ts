/**
 * Measurement 8, for profiles whose replicas replicate sessions to each other (a peer channel):
 * replication lag under the standard whoami load with a steady trickle of profile edits (T8),
 * peer messages per read and per write (T9), bytes per write, and how often a read on another
 * replica misses a write made just before — in async mode, then (after a rolling restart with
 * REPLICATION_MODE=sync, which keeps every session through the state transfer) in sync mode.
 * The replicas count all of it themselves (GET /health/ready → sessionStore.stats).
 */
import { lagQuantile } from '../../src/replication/sessions/lag-histogram.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { runLoad } from '../load.js';
import type { ReplicationResult, StaleReads } from '../results.js';
import type { Subject } from '../subject.js';

/** Clients that edit their profile during the write window (the others keep reading). */
const WRITERS = 4;

export interface PeerStats {
  mode: string;
  sent: Record<string, number>;
  bytesSent: Record<string, number>;
  syncTimeouts: number;
  lagBuckets: Record<number, number>;
}

export async function statsOf(s: Subject): Promise<Record<string, PeerStats>> {
  const out: Record<string, PeerStats> = {};
  for (const r of s.replicas) {
    const res = await fetch(`${s.topology.cluster.replicaUrl(r)}/health/ready`);
    const body = (await res.json()) as { checks: { sessionStore: { stats?: PeerStats } } };
    const stats = body.checks.sessionStore.stats;
    if (!stats) throw new Error(`${r} reports no replication stats`);
    out[r] = stats;
  }
  return out;
}

const total = (stats: Record<string, PeerStats>, pick: (p: PeerStats) => number) =>
  Object.values(stats).reduce((n, p) => n + pick(p), 0);

/** A client of one replica directly, holding `from`'s session cookie. */
function directClient(s: Subject, replica: string, from: VirtualClient): VirtualClient {
  const c = new VirtualClient(s.topology.cluster.replicaUrl(replica), '127.0.0.1');
  for (const [k, v] of from.cookies) c.cookies.set(k, v);
  return c;
}

/** Writes on one replica, each read back at once on another: how many reads miss the write. */
async function staleReads(s: Subject, writes: number): Promise<StaleReads> {
  const [a, b] = s.replicas;
  const writer = directClient(s, a, s.clients[0]);
  const reader = directClient(s, b, s.clients[0]);
  let stale = 0;
  try {
    for (let i = 0; i < writes; i++) {
      const name = `stale-${Date.now()}-${i}`;
      await writer.send('PATCH', '/api/me', { displayName: name });
      const read = await reader.send('GET', '/api/whoami');
      if (!read.body.includes(`"displayName":"${name}"`)) stale++;
    }
  } finally {
    writer.close();
    reader.close();
  }
  return { writes, stale, rate: stale / writes };
}

export async function measureReplication(
  s: Subject,
  o: { durationMs: number; writesPerSecond: number; staleWrites: number },
): Promise<ReplicationResult> {
  const [home] = s.replicas;
  const peers = s.replicas.length - 1;

  // Reads only: the standard load, nothing else.
  const r0 = await statsOf(s);
  const reads = await runLoad(s.clients, {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.durationMs,
  });
  const r1 = await statsOf(s);
  const dataMessages = (p: PeerStats) =>
    Object.entries(p.sent)
      .filter(([t]) => t !== 'accessed')
      .reduce((n, [, v]) => n + v, 0);
  const messagesPerRead = (total(r1, dataMessages) - total(r0, dataMessages)) / reads.requests;
  const accessBatches =
    total(r1, (p) => p.sent.accessed ?? 0) - total(r0, (p) => p.sent.accessed ?? 0);

  // The same load with profile edits on one replica: a few writers, each at a steady rate.
  const writers = s.clients.slice(0, WRITERS).map((c) => directClient(s, home, c));
  let writes = 0;
  let stop = false;
  const editing = writers.map(async (writer, w) => {
    while (!stop) {
      const reply = await writer.send('PATCH', '/api/me', { displayName: `w${w}-${writes}` });
      if (reply.status === 200) writes++;
      await new Promise((r) => setTimeout(r, (1000 * WRITERS) / o.writesPerSecond));
    }
  });
  const w0 = await statsOf(s);
  await runLoad(s.clients.slice(WRITERS), {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.durationMs,
  });
  stop = true;
  await Promise.all(editing);
  writers.forEach((w) => w.close());
  const w1 = await statsOf(s);
  const lagBefore = mergeBuckets(Object.values(w0).map((p) => p.lagBuckets));
  const lagAfter = mergeBuckets(Object.values(w1).map((p) => p.lagBuckets));
  const sentBy = (p: PeerStats) => p.sent.delta ?? 0;
  const dataBytes = (p: PeerStats) => (p.bytesSent.msg ?? 0) + (p.bytesSent.req ?? 0);

  const asyncStale = await staleReads(s, o.staleWrites);
  await s.topology.cluster.rollingRestart({ REPLICATION_MODE: 'sync' });
  const syncStale = await staleReads(s, o.staleWrites);
  const afterSync = await statsOf(s);
  await s.topology.cluster.rollingRestart({ REPLICATION_MODE: 'async' });

  return {
    reads: reads.requests,
    messagesPerRead,
    accessBatchesPerSecond: accessBatches / (o.durationMs / 1000),
    writes,
    messagesPerPeerPerWrite: (sentBy(w1[home]) - sentBy(w0[home])) / (writes * peers),
    bytesPerWrite: (dataBytes(w1[home]) - dataBytes(w0[home])) / writes,
    lagP50: lagQuantile(lagBefore, lagAfter, 0.5),
    lagP99: lagQuantile(lagBefore, lagAfter, 0.99),
    staleReads: { async: asyncStale, sync: syncStale },
    syncTimeouts: total(afterSync, (p) => p.syncTimeouts),
  };
}

function mergeBuckets(all: Array<Record<number, number>>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const b of all)
    for (const [i, n] of Object.entries(b)) out[Number(i)] = (out[Number(i)] ?? 0) + n;
  return out;
}
