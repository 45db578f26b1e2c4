import { defined } from '../../src/common/defined.js';
import { sleep } from './eventually.js';
import type { HttpClient } from './http-client.js';
import { whoamiAsBrowser } from './load.js';
import { register, uniqueName, whoami } from './steps.js';
import type { TestCluster } from './cluster.js';

export interface Crowd {
  clients: HttpClient[];
  /** The replica each client registered on. */
  home: Map<HttpClient, string>;
  /** Clients per replica (every replica listed, 0 where none). */
  load: Record<string, number>;
  /** Clients whose later requests went to more than one replica, or not to their home. */
  unpinned: number;
  /** Clients not authenticated on every later request. */
  loggedOut: number;
}

/** Registers each client as a new user, `concurrency` at a time, then runs `then` for it. */
async function eachRegistered(
  clients: HttpClient[],
  prefix: string,
  concurrency: number,
  then: (client: HttpClient, res: Awaited<ReturnType<typeof register>>) => Promise<void>,
): Promise<void> {
  // One iterator for all workers: each takes the next client.
  const queue = clients.values();
  const worker = async () => {
    for (const client of queue) {
      const res = await register(client, uniqueName(prefix));
      if (res.status !== 201) throw new Error(`register answered ${res.status}: ${res.text}`);
      await then(client, res);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** max ÷ mean of the clients per replica: 1 is an even spread, N (replicas) all on one. */
export const skew = (load: Record<string, number>) => {
  const counts = Object.values(load);
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return Math.max(...counts) / mean;
};

/**
 * `count` clients behind one source address (one NAT, one office): each registers through nginx,
 * `concurrency` at a time, then asks whoami `probes` times. Where each landed, whether it stayed
 * there, and whether it stayed logged in.
 */
export async function crowdBehindOneAddress(
  cluster: TestCluster,
  o: { count: number; subnet: number; probes?: number; concurrency?: number },
): Promise<Crowd> {
  const clients = Array.from({ length: o.count }, () => cluster.client(o.subnet));
  const home = new Map<HttpClient, string>();
  const load = Object.fromEntries(cluster.replicas.map((r) => [r, 0]));
  let unpinned = 0;
  let loggedOut = 0;
  await eachRegistered(clients, 'crowd', o.concurrency ?? 8, async (client, res) => {
    const replica = defined(res.servedBy, 'the replica that registered a client');
    home.set(client, replica);
    load[replica] = defined(load[replica], `${replica}'s count of clients`) + 1;
    const later = [];
    for (let i = 0; i < (o.probes ?? 3); i++) later.push(await whoami(client));
    if (later.some((r) => r.servedBy !== res.servedBy)) unpinned++;
    if (later.some((r) => (r.body as { authenticated?: boolean }).authenticated !== true))
      loggedOut++;
  });
  return { clients, home, load, unpinned, loggedOut };
}

/** What a reading crowd saw while something happened to the cluster. */
export interface ReadOutcome {
  requests: number;
  /** Answers other than 200, and requests that got no answer. */
  failed: number;
  /** What the failures were: `503 from app-4`, `no answer (ECONNRESET)`, with counts. */
  failures: Record<string, number>;
  /** Requests sent again once after a reset of their keep-alive connection (as browsers do). */
  retried: number;
  /** Clients that read as logged out at least once (once out, a client stays out). */
  loggedOut: number;
}

/**
 * `count` clients, each from its own source address (its own /24: `ip_hash` spreads them), each
 * registered and reading whoami every `everyMs`, as users do while a cluster scales under them.
 */
export async function readingCrowd(
  cluster: Pick<TestCluster, 'client'>,
  subnets: number[],
  everyMs = 200,
) {
  const clients = subnets.map((n) => cluster.client(n));
  await eachRegistered(clients, 'reader', 6, async () => undefined);
  return {
    clients,
    /** Reads while `action` runs, and `settleMs` after it; what every client saw. */
    async during(action: () => Promise<unknown>, settleMs = 1500): Promise<ReadOutcome> {
      let stop = false;
      let requests = 0;
      let failed = 0;
      let retried = 0;
      const failures: Record<string, number> = {};
      const fail = (what: string) => {
        failed++;
        failures[what] = (failures[what] ?? 0) + 1;
      };
      const out = new Set<HttpClient>();
      const readers = clients.map(async (client) => {
        while (!stop) {
          const began = Date.now();
          try {
            const res = await whoamiAsBrowser(client, () => retried++);
            requests++;
            if (res.status !== 200) fail(`${res.status} from ${res.servedBy ?? 'nginx'}`);
            else if ((res.body as { authenticated?: boolean }).authenticated !== true)
              out.add(client);
          } catch (err) {
            requests++;
            fail(`no answer (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
          }
          await sleep(Math.max(0, everyMs - (Date.now() - began)));
        }
      });
      try {
        await sleep(2 * everyMs); // everyone reads before it starts
        await action();
        await sleep(settleMs);
      } finally {
        stop = true;
        await Promise.all(readers);
      }
      return { requests, failed, failures, retried, loggedOut: out.size };
    },
  };
}
