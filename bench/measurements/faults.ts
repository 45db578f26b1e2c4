/**
 * The fault matrix: each fault of bench/faults.ts done to a profile while every client keeps
 * reading. Per fault: requests that failed, clients that were logged out at some moment, sessions
 * lost for good (unknown once everything is back), and the time until the last failed request.
 * Lost sessions are logged in again before the next fault, so each starts from the same state.
 */
import { pollUntil, sleep } from '../../cluster/process/poll.js';
import { isAuthenticated, VirtualClient } from '../../cluster/virtual-client.js';
import { defined } from '../../src/common/defined.js';
import type { Fault } from '../faults.js';
import { inParallel, runLoad } from '../load.js';
import type { FaultCell } from '../results.js';
import type { Subject } from '../subject.js';
import { logIn } from '../users.js';

export interface FaultTiming {
  /** Load before the fault. */
  leadMs: number;
  /** Load after the fault (and its own repair) has finished and the last request failed. */
  tailMs: number;
}

/**
 * Whether any replica, asked directly with the client's cookies, knows its session. Only a 2xx
 * answer counts: a replica that answers 5xx (its store still settling) is asked again, bounded.
 */
async function knownAnywhere(s: Subject, client: VirtualClient): Promise<boolean> {
  for (const r of s.replicas) {
    const direct = new VirtualClient(s.topology.cluster.replicaUrl(r), '127.0.0.1');
    for (const [k, v] of client.cookies) direct.cookies.set(k, v);
    try {
      for (let attempt = 0; ; attempt++) {
        const reply = await direct.send('GET', '/api/whoami');
        if (isAuthenticated(reply)) return true;
        if (reply.status >= 200 && reply.status < 500) break;
        if (attempt === ASK_AGAIN)
          throw new Error(`${r} still answers ${reply.status} after the fault`);
        await sleep(250);
      }
    } finally {
      direct.close();
    }
  }
  return false;
}

/** Times a replica that answers 5xx is asked again (every 250 ms) before the run gives up. */
const ASK_AGAIN = 40;

/** Waits (bounded) until every replica says it is ready: its store answers again. */
async function settled(s: Subject): Promise<void> {
  const outcome = await pollUntil(
    async () => {
      for (const r of s.replicas) {
        const res = await fetch(`${s.topology.cluster.replicaUrl(r)}/health/ready`);
        if (res.status !== 200) return false;
      }
      return true;
    },
    { timeoutMs: SETTLE_MS, intervalMs: 250 },
  );
  if (!outcome.ok)
    throw new Error(`the cluster was not ready ${SETTLE_MS / 1000} s after the fault`);
}

const SETTLE_MS = 30_000;

export async function measureFault(s: Subject, fault: Fault, o: FaultTiming): Promise<FaultCell> {
  const cluster = s.topology.cluster;
  const n = s.clients.length;
  let began = Infinity;
  let ended = Infinity;
  let recover: (() => Promise<void>) | undefined;
  let note: string | undefined;
  // Logged out = authenticated in every answer before the fault, then not. (naive's clients are
  // not: round robin over sessions in memory logs them out two times in three anyway.)
  const steadyBefore = new Array<boolean>(n).fill(true);
  const answeredBefore = new Array<boolean>(n).fill(false);
  const loggedOut = new Array<boolean>(n).fill(false);
  const tally = { requests: 0, failed: 0, lastFailureAt: -Infinity };
  const failures: Record<string, number> = {};
  const retriedBefore = s.clients.reduce((n, c) => n + c.retried, 0);
  await runLoad(s.clients, {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.leadMs,
    tailAfterEventsMs: o.tailMs,
    onReply: (i, reply) => {
      const now = performance.now();
      const ok = reply.status >= 200 && reply.status <= 299;
      if (now < began) {
        answeredBefore[i] = true;
        if (!isAuthenticated(reply)) steadyBefore[i] = false;
        return;
      }
      tally.requests++;
      if (!ok) {
        tally.failed++;
        tally.lastFailureAt = now;
        const kind = reply.status ? String(reply.status) : `no answer: ${reply.body.slice(0, 60)}`;
        failures[kind] = (failures[kind] ?? 0) + 1;
      } else if (!isAuthenticated(reply) && answeredBefore[i] && steadyBefore[i]) {
        loggedOut[i] = true;
      }
    },
    events: [
      {
        atMs: o.leadMs,
        run: async () => {
          began = performance.now();
          ({ recover, note } = await fault.inject(cluster));
          ended = performance.now();
        },
      },
    ],
  });
  await recover?.();
  await settled(s);
  // Everything is back: a session no replica knows is lost.
  const lost: number[] = [];
  await inParallel(s.clients, 8, async (client, i) => {
    if (!(await knownAnywhere(s, client))) lost.push(i);
  });
  if (lost.length) {
    const again = await logIn(
      lost.map((i) => defined(s.clients[i], `client ${i}`)),
      lost.map((i) => defined(s.usernames[i], `client ${i}'s username`)),
      16,
    );
    if (again.failed) {
      throw new Error(
        `${again.failed} logins failed after ${fault.name}, first: ${await s.topology.explain(again.firstFailure)}`,
      );
    }
  }
  return {
    fault: fault.name,
    clients: n,
    requests: tally.requests,
    failed: tally.failed,
    loggedOut: loggedOut.filter(Boolean).length,
    sessionsLost: lost.length,
    faultMs: ended - began,
    recoveryMs: tally.failed ? tally.lastFailureAt - began : 0,
    ...(tally.failed ? { failures } : {}),
    retried: s.clients.reduce((n, c) => n + c.retried, 0) - retriedBefore,
    ...(note ? { note } : {}),
  };
}

/** Every fault of `list` (those that apply to the subject's row), one after the other. */
export async function measureFaults(
  s: Subject,
  list: Fault[],
  o: FaultTiming,
  say: (line: string) => void,
): Promise<FaultCell[]> {
  const cells: FaultCell[] = [];
  for (const fault of list) {
    const cell = await measureFault(s, fault, o);
    say(
      `${fault.label}: ${cell.failed} of ${cell.requests} requests failed, ${cell.loggedOut} clients logged out, ` +
        `${cell.sessionsLost} sessions lost, recovered ${(cell.recoveryMs / 1000).toFixed(1)} s after it began` +
        (cell.failed
          ? ` [${Object.entries(cell.failures ?? {})
              .map(([k, n]) => `${n} × ${k}`)
              .join(', ')}]`
          : '') +
        (cell.retried ? ` (${cell.retried} sent again after a reset, as browsers do)` : '') +
        (cell.note ? ` (${cell.note})` : ''),
    );
    cells.push(cell);
  }
  return cells;
}
