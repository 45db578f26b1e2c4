import type { HttpClient } from './http-client.js';
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
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const client = clients[next++];
      const res = await register(client, uniqueName('crowd'));
      if (res.status !== 201) throw new Error(`register answered ${res.status}: ${res.text}`);
      home.set(client, res.servedBy!);
      load[res.servedBy!]++;
      const later = [];
      for (let i = 0; i < (o.probes ?? 3); i++) later.push(await whoami(client));
      if (later.some((r) => r.servedBy !== res.servedBy)) unpinned++;
      if (later.some((r) => (r.body as { authenticated?: boolean }).authenticated !== true))
        loggedOut++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
  return { clients, home, load, unpinned, loggedOut };
}
