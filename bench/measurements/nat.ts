/**
 * Measurement 3, the second half: the same clients behind one NAT, i.e. all from one address.
 * ip_hash then sends everyone to one replica (sticky); round-robin does not care. The first half,
 * distinct clients, is the shares of the throughput runs.
 */
import { VirtualClient } from '../../cluster/virtual-client.js';
import { NAT_ADDRESS, runLoad, summarize, type LoadSummary } from '../load.js';
import type { Subject } from '../subject.js';
import { logIn } from '../users.js';

export async function measureNat(
  s: Subject,
  o: { warmupMs: number; durationMs: number },
): Promise<LoadSummary> {
  const clients = s.usernames.map(() => new VirtualClient(s.url, NAT_ADDRESS));
  try {
    // Logged in again from the shared address: with ip_hash their sessions must live where
    // that address is sent.
    if (s.topology.spec.login) {
      const outcome = await logIn(clients, s.usernames, 16, 3);
      if (outcome.failed)
        throw new Error(`NAT logins failed: ${await s.topology.explain(outcome.firstFailure)}`);
    }
    return summarize(await runLoad(clients, { path: '/api/whoami', ...o }), s.replicas);
  } finally {
    clients.forEach((c) => {
      c.close();
    });
  }
}
