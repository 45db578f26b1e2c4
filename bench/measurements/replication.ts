/**
 * Measurement 8, for profiles whose replicas replicate sessions to each other (a peer channel):
 * replication lag under the standard whoami load with a steady trickle of profile edits (T8:
 * until the write is visible on a peer), how long after that the peer's main thread merged it
 * and how late its event loop ran, and the same with the reads bounded to a share of the
 * standard load's throughput (what the lag is when the cores have room),
 * peer messages per read and per write (T9), bytes per write, and how often a read on another
 * replica misses a write made just before — in async mode, then (after a rolling restart with
 * REPLICATION_MODE=sync, which keeps every session through the state transfer) in sync mode.
 * The replicas count all of it themselves (GET /health/ready → sessionStore.stats).
 */
import { lagQuantile } from '../../src/replication/core/lag-histogram.js';
import { VirtualClient } from '../../cluster/virtual-client.js';
import { defined } from '../../src/common/defined.js';
import { onSchedule, runLoad } from '../load.js';
import type { LagUnderLoad, ReplicationResult, StaleReads } from '../results.js';
import type { Subject } from '../subject.js';
import { CAPACITY_SHARES } from './latency.js';
import { dataBytes, peerStatsOf, readWindow, total, type PeerCounters } from './peer-stats.js';

/** Clients that edit their profile during the write window (the others keep reading). */
const WRITERS = 16;
/**
 * The bounded loads: these shares of the highest open-loop rate the row kept up with (without
 * the latency step: of the reads per second the standard load reached), the same as the
 * open-loop latency's. T8 is judged at the larger.
 */
const BOUNDED_SHARES = CAPACITY_SHARES;

interface PeerStats extends PeerCounters {
  mode: string;
  syncTimeouts: number;
  lagBuckets: Record<number, number>;
  appliedBuckets: Record<number, number>;
  handlingBuckets: Record<number, number>;
  loopDelayBuckets: Record<number, number>;
}

const statsOf = (s: Subject) => peerStatsOf<PeerStats>(s);
/** One replica's stats in a reading of every replica. */
const statsOn = (reading: Record<string, PeerStats>, replica: string) =>
  defined(reading[replica], `${replica}'s stats`);

/** A client of one replica directly, holding `from`'s session cookie. */
function directClient(s: Subject, replica: string, from: VirtualClient): VirtualClient {
  const c = new VirtualClient(s.topology.cluster.replicaUrl(replica), '127.0.0.1');
  for (const [k, v] of from.cookies) c.cookies.set(k, v);
  return c;
}

/** Writes on one replica, each read back at once on another: how many reads miss the write. */
async function staleReads(s: Subject, writes: number): Promise<StaleReads> {
  const [a, b] = s.replicas;
  const client = defined(s.clients[0], 'a logged-in client');
  const writer = directClient(s, defined(a, 'a replica to write on'), client);
  const reader = directClient(s, defined(b, 'a second replica to read on'), client);
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
  o: {
    durationMs: number;
    writesPerSecond: number;
    staleWrites: number;
    /** Also the stale reads in sync mode (two rolling restarts); quick runs leave it out. */
    sync: boolean;
    /** The reads per second the bounded loads are shares of; absent: this window's own. */
    boundedBasis?: number;
  },
): Promise<ReplicationResult> {
  // Reads only: the standard load, nothing else.
  const {
    reads,
    before: r0,
    after: r1,
    messagesPerRead,
  } = await readWindow<PeerStats>(s, o.durationMs);
  const accessBatches =
    total(r1, (p) => p.sent.accessed ?? 0) - total(r0, (p) => p.sent.accessed ?? 0);

  // The same load with profile edits on one replica: a few writers, together at the asked rate.
  const standard = await writeWindow(s, o, {});
  // Then with the reads bounded: the lag when the replicas have cores to spare.
  const readsPerSecond = reads / (o.durationMs / 1000);
  const sustained = o.boundedBasis && o.boundedBasis > 0 ? o.boundedBasis : undefined;
  const basis = sustained ?? readsPerSecond;
  const bounded: LagUnderLoad[] = [];
  for (const share of BOUNDED_SHARES) {
    const w = await writeWindow(s, o, { ratePerSecond: share * basis });
    bounded.push({
      share,
      readsPerSecond: w.readsPerSecond,
      writes: w.writes,
      lagP50: w.lagP50,
      lagP99: w.lagP99,
      appliedP99: w.appliedP99,
      loopDelayP99: w.loopDelayP99,
    });
  }

  const asyncStale = await staleReads(s, o.staleWrites);
  let sync: { stale: StaleReads; timeouts: number } | undefined;
  if (o.sync) {
    await s.topology.cluster.rollingRestart({ REPLICATION_MODE: 'sync' });
    const stale = await staleReads(s, o.staleWrites);
    sync = { stale, timeouts: total(await statsOf(s), (p) => p.syncTimeouts) };
    await s.topology.cluster.rollingRestart({ REPLICATION_MODE: 'async' });
  }

  return {
    reads,
    messagesPerRead,
    accessBatchesPerSecond: accessBatches / (o.durationMs / 1000),
    writes: standard.writes,
    messagesPerPeerPerWrite: standard.messagesPerPeerPerWrite,
    bytesPerWrite: standard.bytesPerWrite,
    lagP50: standard.lagP50,
    lagP99: standard.lagP99,
    appliedP50: standard.appliedP50,
    appliedP99: standard.appliedP99,
    handlingP99: standard.handlingP99,
    loopDelayP99: standard.loopDelayP99,
    readLatency: { p50: standard.readLatency.p50, p99: standard.readLatency.p99 },
    readsPerSecond,
    ...(sustained ? { sustainedRate: sustained } : {}),
    readers: s.clients.length - WRITERS,
    bounded,
    staleReads: { async: asyncStale, ...(sync ? { sync: sync.stale } : {}) },
    ...(sync ? { syncTimeouts: sync.timeouts } : {}),
  };
}

/**
 * Profile edits on the first replica (WRITERS clients, on a schedule that adds up to
 * writesPerSecond) while the other clients read through nginx: back to back (the standard
 * load), or bounded to `ratePerSecond`. The lag, the merge and the event-loop delay are
 * read on the other replicas, which apply the edits.
 */
async function writeWindow(
  s: Subject,
  o: { durationMs: number; writesPerSecond: number },
  load: { ratePerSecond?: number },
) {
  const [first, ...others] = s.replicas;
  const home = defined(first, 'a replica to write on');
  const writers = s.clients.slice(0, WRITERS).map((c) => directClient(s, home, c));
  let writes = 0;
  let stop = false;
  const editing = onSchedule(
    writers,
    { ratePerSecond: o.writesPerSecond, stop: () => stop },
    async (writer, w) => {
      const reply = await writer.send('PATCH', '/api/me', { displayName: `w${w}-${writes}` });
      if (reply.status === 200) writes++;
    },
  );
  const w0 = await statsOf(s);
  const run = await runLoad(s.clients.slice(WRITERS), {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.durationMs,
    ...(load.ratePerSecond ? { ratePerSecond: load.ratePerSecond } : {}),
  });
  stop = true;
  await editing;
  for (const w of writers) w.close();
  const w1 = await statsOf(s);
  const onPeers = (x: Record<string, PeerStats>, pick: (p: PeerStats) => Record<number, number>) =>
    mergeBuckets(others.map((r) => pick(statsOn(x, r))));
  const quantile = (pick: (p: PeerStats) => Record<number, number>, q: number) =>
    lagQuantile(onPeers(w0, pick), onPeers(w1, pick), q);
  const sentBy = (p: PeerStats) => p.sent.delta ?? 0;
  return {
    writes,
    readsPerSecond: run.requests / (o.durationMs / 1000),
    readLatency: run.latency.summary(),
    messagesPerPeerPerWrite:
      (sentBy(statsOn(w1, home)) - sentBy(statsOn(w0, home))) / (writes * others.length),
    bytesPerWrite: (dataBytes(statsOn(w1, home)) - dataBytes(statsOn(w0, home))) / writes,
    lagP50: quantile((p) => p.lagBuckets, 0.5),
    lagP99: quantile((p) => p.lagBuckets, 0.99),
    appliedP50: quantile((p) => p.appliedBuckets, 0.5),
    appliedP99: quantile((p) => p.appliedBuckets, 0.99),
    handlingP99: quantile((p) => p.handlingBuckets, 0.99),
    loopDelayP99: quantile((p) => p.loopDelayBuckets, 0.99),
  };
}

function mergeBuckets(all: Array<Record<number, number>>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const b of all)
    for (const [i, n] of Object.entries(b)) out[Number(i)] = (out[Number(i)] ?? 0) + n;
  return out;
}
