/**
 * Profile `sticky-cookie` (a route cookie + in-memory sessions): stickiness the way an AWS ALB,
 * HAProxy's `cookie … insert` and Tomcat's jvmRoute do it. The guarantee suite checks the row;
 * here, what the cookie fixes (one NAT's clients spread evenly, each pinned), what it does not (a
 * crash still logs its clients out), the re-pinning after a failover, and that the route cookie
 * is no credential (forged values are new clients).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ROUTE_COOKIE } from '../cluster/routing/route-cookie.js';
import { defined } from '../src/common/defined.js';
import { useCluster } from './support/cluster.js';
import { crowdBehindOneAddress, skew } from './support/crowd.js';
import { eventually } from './support/eventually.js';
import type { HttpClient } from './support/http-client.js';
import { isLoggedIn, login, register, uniqueName, whoami } from './support/steps.js';

const cluster = useCluster('sticky-cookie');

const authenticated = (res: { body: unknown }) =>
  (res.body as { authenticated?: boolean }).authenticated === true;

describe('sticky-cookie: a route cookie over in-memory sessions', () => {
  it('300 clients behind one address: spread evenly, each pinned to its replica, all logged in', async () => {
    const crowd = await crowdBehindOneAddress(cluster, { count: 300, subnet: 60 });
    expect(crowd.unpinned).toBe(0);
    expect(crowd.loggedOut).toBe(0);
    expect(Object.values(crowd.load).every((n) => n > 0)).toBe(true);
    expect(skew(crowd.load)).toBeLessThanOrEqual(1.2);
    // Each is pinned by the cookie its replica set: it names the replica.
    for (const c of crowd.clients) expect(c.cookie(ROUTE_COOKIE)).toBe(crowd.home.get(c));
  });

  it("a crash fails its clients over without an error, re-pinned and logged out; others untouched; the dead replica's return moves nobody", async () => {
    const clients: HttpClient[] = [];
    const names = new Map<HttpClient, string>();
    for (let i = 0; i < 24; i++) {
      const c = cluster.client(70);
      const name = uniqueName('pinned');
      names.set(c, name);
      expect((await register(c, name)).status).toBe(201);
      clients.push(c);
    }
    const homeOf = new Map(
      clients.map((c) => [c, defined(c.cookie(ROUTE_COOKIE), 'a route cookie')]),
    );
    const first = defined(clients[0], 'a first client');
    const victim = defined(homeOf.get(first), "the first client's replica");
    const orphans = clients.filter((c) => homeOf.get(c) === victim);
    const others = clients.filter((c) => homeOf.get(c) !== victim);
    expect(orphans.length).toBeGreaterThan(0);
    expect(others.length).toBeGreaterThan(0);

    await cluster.kill(victim);
    const newHome = new Map<HttpClient, string | undefined>();
    try {
      for (const c of orphans) {
        const res = await whoami(c);
        expect(res.status).toBe(200); // failed over: no error...
        expect(res.servedBy).not.toBe(victim);
        expect(authenticated(res)).toBe(false); // ...but its session died with the replica
        expect(c.cookie(ROUTE_COOKIE)).toBe(res.servedBy); // re-pinned where it landed
        newHome.set(c, res.servedBy);
        // It logs in again on its new replica, and stays there.
        const name = defined(names.get(c), "an orphan's username");
        expect((await login(c, name)).servedBy).toBe(res.servedBy);
        for (let i = 0; i < 3; i++) expect((await whoami(c)).servedBy).toBe(res.servedBy);
      }
      for (const c of others) {
        const res = await whoami(c);
        expect([res.servedBy, authenticated(res)]).toEqual([homeOf.get(c), true]);
        expect(res.headers['set-cookie']).toBeUndefined(); // not re-pinned
      }
    } finally {
      await cluster.rejoin(victim);
    }
    // nginx sends the victim requests again: a client whose cookie names it lands there...
    const probe = cluster.client(71);
    probe.cookies.set(ROUTE_COOKIE, victim);
    expect(await eventually(async () => (await whoami(probe)).servedBy === victim, 10_000)).toBe(
      true,
    );
    // ...but the re-pinned clients stay where they are, logged in (with `sticky`, ip_hash sends
    // them back to the restarted replica, which has forgotten them: a second logout).
    for (const c of orphans) {
      const res = await whoami(c);
      expect([res.servedBy, authenticated(res)]).toEqual([newHome.get(c), true]);
    }
    for (const c of others) expect(await isLoggedIn(c)).toBe(true);
  });

  it('a forged, unknown, malformed or oversized route is a new client: no 5xx, round-robin, re-pinned', async () => {
    const replicas = cluster.replicas;
    const addresses = new Set(replicas.map((r) => new URL(cluster.replicaUrl(r)).host));
    // What a client may put in the cookie: near misses of real names, names of things that
    // are not replicas (upstream names, addresses), any printable text, and very long values.
    const forged = fc.oneof(
      fc.constantFrom(
        ...replicas.flatMap((r) => [`${r} `, `${r}0`, `"${r}"`, r.replace('-', '_'), `pin_${r}`]),
        'app',
        'default',
        '$route_upstream',
        'pin_app_1',
        new URL(cluster.replicaUrl(defined(replicas[0], 'a first replica'))).host,
        '127.0.0.1:5432',
        '',
      ),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      fc.string({
        unit: fc.constantFrom('a', 'p', '-', '1', '%', '\\'),
        minLength: 1000,
        maxLength: 6000,
      }),
    );
    const servedBy = new Set<string>();
    await fc.assert(
      fc.asyncProperty(forged, async (value) => {
        const client = cluster.client(72);
        client.cookies.set(ROUTE_COOKIE, value.replace(/[;\s]/g, ''));
        const sent = defined(client.cookie(ROUTE_COOKIE), 'the forged route cookie');
        const res = await whoami(client);
        expect(res.status).toBe(200);
        expect(addresses).toContain(res.headers['x-upstream-addr']);
        expect(authenticated(res)).toBe(false);
        const by = defined(res.servedBy, 'the replica that answered');
        servedBy.add(by);
        // nginx compares the value ignoring case: only a replica's own name pins to it.
        if (sent.toLowerCase() !== by.toLowerCase()) {
          expect(client.cookie(ROUTE_COOKIE)).toBe(by);
        }
      }),
      { numRuns: 120 },
    );
    // Treated as new clients, they were balanced, not all sent to one place.
    expect([...servedBy].sort()).toEqual([...replicas].sort());
  });
});
