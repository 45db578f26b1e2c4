/**
 * A running topology made ready for measuring: users seeded, one logged-in virtual client per
 * user (each from its own /24), a probe connection to Postgres and the cluster's looks into its
 * session store (none where sessions live in the replicas).
 */
import { backendOf, profileOf } from '../cluster/profiles.js';
import type { StoreObserver } from '../cluster/services/index.js';
import { VirtualClient } from '../cluster/virtual-client.js';
import { clientAddress } from './load.js';
import { PostgresProbe } from './probes.js';
import type { RunningTopology } from './topology.js';
import { cheapPasswordHash, logIn, seedUsers } from './users.js';

export interface Subject {
  topology: RunningTopology;
  name: string;
  url: string;
  replicas: readonly string[];
  /** Logged in (unless the topology has no sessions), client i from clientAddress(i). */
  clients: VirtualClient[];
  usernames: string[];
  passwordHash: string;
  setupLogins: { clients: number; failed: number };
  /** Read-only looks into the session store's servers (cluster.observeStores()). */
  stores: StoreObserver[];
  postgres: PostgresProbe;
  close(): Promise<void>;
}

/**
 * Throws unless every process of the topology runs: one stopped from outside the benchmark (or
 * crashed) would make every figure after it wrong, and silently so.
 */
export function assertRunning(s: Subject, except: string[] = []): void {
  const down = s.topology.cluster
    .status()
    .filter((m) => !m.running && !except.includes(m.name))
    .map((m) => m.name);
  if (down.length) {
    throw new Error(
      `${down.join(', ')} of ${s.name} stopped running (killed from outside the benchmark?)`,
    );
  }
}

export async function prepareSubject(
  topology: RunningTopology,
  clientCount: number,
): Promise<Subject> {
  const { cluster, spec } = topology;
  const passwordHash = await cheapPasswordHash();
  const usernames = await seedUsers(topology.postgresUrl, 'client', clientCount, passwordHash);
  const clients = usernames.map((_, i) => new VirtualClient(cluster.url, clientAddress(i)));
  const postgres = await PostgresProbe.connect(topology.superuserUrl);
  // A row that keeps sessions in their cookies runs its store for other state (a denylist): it
  // is watched (commands, memory), but holds no sessions to count, copy or sample.
  const inCookie = backendOf(profileOf(spec.profile)).inCookie === true;
  const stores = (await cluster.observeStores()).map((o) =>
    inCookie
      ? {
          ...o,
          sampleSessions: undefined,
          sessionCount: undefined,
          keysPerServer: undefined,
          fill: undefined,
          close: () => o.close(),
        }
      : o,
  );
  let failed = 0;
  if (spec.login) {
    // A store that has just started may answer 503 for a moment (Sentinel settling): tried
    // again, up to 10 s.
    const outcome = await logIn(clients, usernames, 16, 10);
    failed = outcome.failed;
    if (outcome.retried)
      console.error(`${spec.name}: ${outcome.retried} set-up logins answered 503, tried again`);
    // A few failures would skew every figure that follows: stop here and say why.
    if (failed) {
      throw new Error(
        `${spec.name}: ${failed} of ${clientCount} set-up logins failed, first: ${await topology.explain(outcome.firstFailure)}`,
      );
    }
  }
  return {
    topology,
    name: spec.name,
    url: cluster.url,
    replicas: cluster.replicas,
    clients,
    usernames,
    passwordHash,
    setupLogins: { clients: spec.login ? clientCount : 0, failed },
    stores,
    postgres,
    async close() {
      clients.forEach((c) => {
        c.close();
      });
      await Promise.all(stores.map((o) => o.close().catch(() => undefined)));
      await postgres.close().catch(() => undefined);
    },
  };
}
