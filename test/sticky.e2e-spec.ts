/**
 * Profile `sticky` (nginx ip_hash + in-memory sessions): fix 1 and its costs, as clients see them.
 * The guarantee suite checks the row (one NAT's clients on one replica, sessions lost with a
 * replica); here, stickiness per client and what a replica's return does to its old clients.
 * Clients are told apart by their source address; each test client binds to its own 127.0.N.1,
 * because ip_hash keys on the first three octets of an IPv4 address.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import type { HttpClient } from './support/http-client.js';
import { useCluster } from './support/cluster.js';
import { crowdBehindOneAddress, skew } from './support/crowd.js';
import { eventually } from './support/eventually.js';
import { isLoggedIn, login, register, uniqueName, whoami } from './support/steps.js';

const cluster = useCluster('sticky');

/** Which replicas served `n` whoami requests of one client, and whether all were authenticated. */
async function probe(client: HttpClient, n = 6) {
  const served = new Set<string>();
  let allAuthenticated = true;
  for (let i = 0; i < n; i++) {
    const res = await whoami(client);
    served.add(defined(res.servedBy, 'the replica that answered'));
    allAuthenticated &&= (res.body as { authenticated: boolean }).authenticated;
  }
  return { served: [...served], allAuthenticated };
}

const usernames = new Map<HttpClient, string>();

async function loggedInClients(subnets: number[]) {
  const clients = subnets.map((n) => cluster.client(n));
  for (const c of clients) {
    const name = uniqueName('sticky');
    usernames.set(c, name);
    expect((await register(c, name)).status).toBe(201);
  }
  return clients;
}

describe('sticky: ip_hash over in-memory sessions', () => {
  it('each distinct client stays on one replica and stays logged in; clients spread over replicas', async () => {
    const clients = await loggedInClients([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    const homes = new Set<string>();
    for (const c of clients) {
      const { served, allAuthenticated } = await probe(c);
      expect(served).toHaveLength(1);
      expect(allAuthenticated).toBe(true);
      homes.add(defined(served[0], "the client's replica"));
    }
    expect(homes.size).toBeGreaterThan(1);
  });

  it('300 clients behind one address (one NAT) all land on one replica: the skew sticky-cookie removes', async () => {
    const crowd = await crowdBehindOneAddress(cluster, { count: 300, subnet: 60 });
    expect(crowd.unpinned).toBe(0);
    expect(crowd.loggedOut).toBe(0);
    expect(Object.values(crowd.load).filter((n) => n > 0)).toEqual([300]);
    expect(skew(crowd.load)).toBe(cluster.replicas.length);
  });

  it("a dead replica loses its clients' sessions, other clients keep theirs; after restart its clients return to it, still logged out", async () => {
    const clients = await loggedInClients([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    const homeOf = new Map<HttpClient, string>();
    for (const c of clients)
      homeOf.set(c, defined((await probe(c, 1)).served[0], "the client's replica"));
    const first = defined(clients[0], 'a first client');
    const victim = defined(homeOf.get(first), "the first client's replica");
    const orphans = clients.filter((c) => homeOf.get(c) === victim);
    const others = clients.filter((c) => homeOf.get(c) !== victim);
    expect(others.length).toBeGreaterThan(0);

    const orphan = defined(orphans[0], 'an orphan');
    await cluster.kill(victim);
    try {
      for (const c of orphans) {
        const res = await whoami(c);
        expect(res.status).toBe(200); // nginx failed over: no error...
        expect(res.servedBy).not.toBe(victim);
        expect((res.body as { authenticated: boolean }).authenticated).toBe(false); // ...but the session is gone
      }
      for (const c of others)
        expect(await probe(c, 2)).toEqual({ served: [homeOf.get(c)], allAuthenticated: true });

      // During the outage an orphan logs in again, on the replica it failed over to.
      const relogin = await login(orphan, defined(usernames.get(orphan), "the orphan's username"));
      expect(relogin.status).toBe(200);
      expect(relogin.servedBy).not.toBe(victim);
      expect(await isLoggedIn(orphan)).toBe(true);
    } finally {
      await cluster.restart(victim);
    }
    // nginx takes the replica back once its fail_timeout (2 s) has passed...
    expect(await eventually(async () => (await whoami(orphan)).servedBy === victim, 10_000)).toBe(
      true,
    );
    // ...and sends its old clients home, to a replica that restarted with empty memory: the
    // orphan that logged in again during the outage is logged out a second time.
    for (const c of orphans) expect(await isLoggedIn(c)).toBe(false);
    for (const c of others) expect(await isLoggedIn(c)).toBe(true);
  });
});
