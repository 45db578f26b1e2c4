/**
 * Measurement 8 for the `backup` profile (primary/backup replication, target T10): how many
 * replicas hold each session (every replica's own count of the copies it holds as primary and
 * as backup), peer messages per read and per write, bytes per write, and the latency of the
 * first request after the primary's crash (the failover: a promotion or a fetch). Reads and
 * writes go through nginx, so each reaches its session's primary (the route cookie), as in use.
 * The replicas count the messages themselves (GET /health/ready → sessionStore.stats).
 */
import { VirtualClient } from '../../cluster/virtual-client.js';
import { defined } from '../../src/common/defined.js';
import { runLoad } from '../load.js';
import type { BackupResult } from '../results.js';
import type { Subject } from '../subject.js';
import {
  dataBytes,
  dataMessages,
  peerStatsOf,
  readWindow,
  total,
  type PeerCounters,
} from './peer-stats.js';

const WRITERS = 4;

interface Stats extends PeerCounters {
  held: { primary: number; backup: number; proxy: number };
  ackTimeouts: number;
}

const statsOf = (s: Subject, replicas?: readonly string[]) => peerStatsOf<Stats>(s, replicas);

export async function measureBackup(
  s: Subject,
  o: { durationMs: number; writesPerSecond: number },
): Promise<BackupResult> {
  const before = await statsOf(s);
  const sessions = total(before, (p) => p.held.primary);
  const copies = total(before, (p) => p.held.primary + p.held.backup);

  const { reads, messagesPerRead } = await readWindow<Stats>(s, o.durationMs);

  // Profile edits through nginx (each to its session's primary) under the same whoami load.
  const writers = s.clients.slice(0, WRITERS);
  let writes = 0;
  let stop = false;
  const w0 = await statsOf(s);
  const editing = writers.map(async (writer: VirtualClient, w) => {
    while (!stop) {
      const reply = await writer.send('PATCH', '/api/me', { displayName: `w${w}-${writes}` });
      if (reply.status === 200) writes++;
      await new Promise((r) => setTimeout(r, (1000 * WRITERS) / o.writesPerSecond));
    }
  });
  await runLoad(s.clients.slice(WRITERS), {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.durationMs,
  });
  stop = true;
  await Promise.all(editing);
  const w1 = await statsOf(s);
  // The whoami load of the window sends nothing (above); what was sent meanwhile is the writes'.
  const messagesPerWrite = (total(w1, dataMessages) - total(w0, dataMessages)) / writes;
  const bytesPerWrite = (total(w1, dataBytes) - total(w0, dataBytes)) / writes;

  // Failover: a client's primary killed; its first request after (nginx fails it over), timed.
  const cluster = s.topology.cluster;
  const victim = defined(s.replicas[1], 'a second replica');
  const client = new VirtualClient(cluster.url, '127.0.0.1');
  let firstRequestAfterCrashMs: number;
  let nextRequestMs: number;
  try {
    const name = `failover-${Date.now()}`;
    const reg = await client.send('POST', '/api/auth/register', {
      username: name,
      password: 'correct horse battery staple',
    });
    if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
    // Pin it to the victim: the route cookie says where nginx sends it.
    client.cookies.set('route', victim);
    const pinned = await client.send('GET', '/api/whoami');
    if (!pinned.body.includes('"authenticated":true'))
      throw new Error('not logged in on its replica');
    await cluster.kill(victim);
    const started = performance.now();
    const after = await client.send('GET', '/api/whoami');
    firstRequestAfterCrashMs = performance.now() - started;
    if (!after.body.includes('"authenticated":true')) throw new Error('logged out by the failover');
    const t = performance.now();
    await client.send('GET', '/api/whoami');
    nextRequestMs = performance.now() - t;
  } finally {
    client.close();
    await cluster.restart(victim);
  }
  const afterAll = await statsOf(s);

  return {
    sessions,
    copiesPerSession: sessions ? copies / sessions : 0,
    heldPerReplica: Object.fromEntries(Object.entries(before).map(([r, p]) => [r, p.held])),
    reads,
    messagesPerRead,
    writes,
    messagesPerWrite,
    bytesPerWrite,
    firstRequestAfterCrashMs,
    nextRequestMs,
    ackTimeouts: total(afterAll, (p) => p.ackTimeouts),
  };
}
