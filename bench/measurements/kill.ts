/**
 * Measurement 5: a replica SIGKILLed while every client keeps reading. Counts the requests that
 * did not get a 2xx answer after the kill, and the clients that were logged out by it: those with
 * no authenticated answer at all after the kill (their session died with the replica).
 */
import { isAuthenticated } from '../../cluster/virtual-client.js';
import { runLoad } from '../load.js';
import type { KillResult } from '../results.js';
import type { Subject } from '../subject.js';

export async function measureKill(
  s: Subject,
  o: { seconds: number; replica: string },
): Promise<KillResult> {
  const killAtMs = (o.seconds * 1000) / 3;
  // performance.now() when SIGKILL was sent, and when the replica was gone (reaped). Failures
  // count from the first; logged-out clients from the second, so an answer the replica sent in
  // its last moments does not count as "still logged in".
  let sent = Infinity;
  let gone = Infinity;
  const n = s.clients.length;
  const authenticatedAfter = new Array<boolean>(n).fill(false);
  const answeredAfter = new Array<boolean>(n).fill(false);
  const tally = { before: 0, authBefore: 0, after: 0, authAfter: 0, failed: 0 };
  await runLoad(s.clients, {
    path: '/api/whoami',
    warmupMs: 0,
    durationMs: o.seconds * 1000,
    onReply: (i, reply) => {
      const now = performance.now();
      const auth = isAuthenticated(reply);
      if (now < sent) {
        tally.before++;
        if (auth) tally.authBefore++;
        return;
      }
      if (reply.status < 200 || reply.status > 299) tally.failed++;
      if (now < gone) return;
      tally.after++;
      answeredAfter[i] = true;
      if (auth) {
        tally.authAfter++;
        authenticatedAfter[i] = true;
      }
    },
    events: [
      {
        atMs: killAtMs,
        run: async () => {
          sent = performance.now();
          await s.topology.cluster.kill(o.replica);
          gone = performance.now();
        },
      },
    ],
  });
  return {
    replica: o.replica,
    killedAtSeconds: killAtMs / 1000,
    seconds: o.seconds,
    requests: tally.before + tally.after,
    failed: tally.failed,
    clients: n,
    loggedOut: answeredAfter.filter((answered, i) => answered && !authenticatedAfter[i]).length,
    authenticatedBefore: tally.before ? tally.authBefore / tally.before : 0,
    authenticatedAfter: tally.after ? tally.authAfter / tally.after : 0,
  };
}
