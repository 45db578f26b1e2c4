/**
 * Profile `memcached` (round-robin + two Memcached nodes, each session on one, chosen by the
 * replicas' hashing), beyond what the guarantee suite checks for every profile: a node killed
 * under load logs out exactly the clients whose sessions it held and nobody else, without a
 * failed request; a restarted node gets new sessions again; with every node down, fast 503s.
 */
import { describe, expect, it } from '@jest/globals';
import { memcachedCommand, memcachedStats } from '../cluster/services/memcached-protocol.js';
import { defined } from '../src/common/defined.js';
import { sessionKeyOf } from '../src/session/backends/memcached-keys.js';
import { publicSessionId } from '../src/session/session.types.js';
import type { HttpClient } from './support/http-client.js';
import { stream, useCluster } from './support/cluster.js';
import { eventually, sleep } from './support/eventually.js';
import { isLoggedIn, login, register, uniqueName, whoami } from './support/steps.js';

const cluster = useCluster('memcached');
const NODES = ['memcached-1', 'memcached-2'];

/** The raw session id in a client's signed cookie (`s:<id>.<signature>`). */
function sessionIdOf(client: HttpClient): string {
  const cookie = decodeURIComponent(client.cookie('sid') ?? '');
  return cookie.slice(2, cookie.lastIndexOf('.'));
}

/** The nodes that hold the client's session, asked directly. */
async function nodesHolding(client: HttpClient): Promise<string[]> {
  const key = sessionKeyOf(publicSessionId(sessionIdOf(client)));
  const holders: string[] = [];
  for (const member of cluster.status().filter((m) => NODES.includes(m.name) && m.running)) {
    const reply = await memcachedCommand('127.0.0.1', member.port, `get ${key}`);
    if (reply.startsWith('VALUE ')) holders.push(member.name);
  }
  return holders;
}

/** Items a node holds now (its `stats`). */
async function itemsOn(node: string): Promise<number> {
  const { port } = defined(
    cluster.status().find((m) => m.name === node),
    `the member ${node}`,
  );
  return (await memcachedStats('127.0.0.1', port)).get('curr_items') ?? 0;
}

async function loggedInClients(count: number, firstSubnet: number): Promise<HttpClient[]> {
  const clients = Array.from({ length: count }, (_, i) => cluster.client(firstSubnet + i));
  for (let i = 0; i < count; i += 6) {
    await Promise.all(
      clients.slice(i, i + 6).map(async (c) => {
        expect((await register(c, uniqueName('mc'))).status).toBe(201);
      }),
    );
  }
  return clients;
}

const authenticated = (res: { status: number; body: unknown }) =>
  res.status === 200 && (res.body as { authenticated?: boolean }).authenticated === true;

describe('memcached: two nodes, each session on one', () => {
  const CLIENTS = 60;
  let clients: HttpClient[] = [];
  /** Clients whose sessions are on memcached-1, the node the test kills. */
  let onKilled = new Set<HttpClient>();

  it('a node SIGKILLed under load logs out exactly its share of clients; no request fails', async () => {
    clients = await loggedInClients(CLIENTS, 2000);
    const holders = await Promise.all(clients.map(nodesHolding));
    // Each session on exactly one node, and both nodes used.
    expect(holders.every((h) => h.length === 1)).toBe(true);
    onKilled = new Set(clients.filter((_, i) => holders[i]?.[0] === 'memcached-1'));
    expect(onKilled.size).toBeGreaterThan(0);
    expect(onKilled.size).toBeLessThan(CLIENTS);

    // The node's share of the keys, as the nodes count them.
    const items = await Promise.all(NODES.map(itemsOn));
    const killedItems = defined(items[0], 'the items on memcached-1');
    const allItems = items.reduce((a, b) => a + b, 0);
    const keyShare = killedItems / allItems;

    let killedAt = Infinity;
    const killer = sleep(800)
      .then(() => cluster.kill('memcached-1'))
      .then(() => (killedAt = performance.now()));
    const results = await stream(2500, 6, async () => {
      const client = defined(clients[Math.floor(Math.random() * CLIENTS)], 'a random client');
      const res = await whoami(client);
      return { client, res, at: performance.now() };
    });
    await killer;

    // No request failed: a client on the dead node gets an answer, as a stranger.
    expect(results.filter((r) => r.res.status !== 200)).toEqual([]);
    // Nobody else noticed anything, before the kill or after.
    expect(results.filter((r) => !onKilled.has(r.client) && !authenticated(r.res))).toEqual([]);
    expect(results.some((r) => r.at > killedAt + 100)).toBe(true);

    const loggedOut = new Set<HttpClient>();
    for (const c of clients) if (!(await isLoggedIn(c))) loggedOut.add(c);
    // Exactly the clients whose sessions that node held...
    expect([...loggedOut].every((c) => onKilled.has(c))).toBe(true);
    expect(loggedOut.size).toBe(onKilled.size);
    // ...which is the node's share of the keys, within ±10 %.
    expect(Math.abs(loggedOut.size / CLIENTS - keyShare)).toBeLessThanOrEqual(0.1);
    process.stdout.write(
      `memcached-1 held ${killedItems} of ${allItems} items; ` +
        `${loggedOut.size} of ${CLIENTS} clients logged out; ` +
        `${results.length} requests, 0 failed\n`,
    );
  }, 120_000);

  it('the node restarted (empty): new logins use it again; the other clients stay logged in', async () => {
    await cluster.restart('memcached-1');
    // The replicas skip a failed node for a few seconds, then try it again.
    const probe = async () => {
      const [client] = await loggedInClients(1, 2100);
      return (await nodesHolding(defined(client, 'a new client')))[0] === 'memcached-1';
    };
    expect(await eventually(probe, 20_000, 500)).toBe(true);

    const fresh = await loggedInClients(30, 2200);
    const holders = await Promise.all(fresh.map(nodesHolding));
    expect(holders.every((h) => h.length === 1)).toBe(true);
    const onRestarted = holders.filter((h) => h[0] === 'memcached-1').length;
    expect(onRestarted).toBeGreaterThan(0);
    expect(onRestarted).toBeLessThan(30);
    for (const c of clients.filter((c) => !onKilled.has(c))) expect(await isLoggedIn(c)).toBe(true);
  }, 120_000);

  // Last: it takes every node away.
  it('every node down: 503 for session reads and logins; nodes back: logins work again', async () => {
    const name = uniqueName('mc');
    const client = cluster.client(2300);
    expect((await register(client, name)).status).toBe(201);
    for (const node of NODES) await cluster.kill(node);
    try {
      const answers = [
        ...(await Promise.all(Array.from({ length: 4 }, () => whoami(client)))),
        await login(cluster.client(2301), name),
      ];
      for (const a of answers) {
        expect(a.status).toBe(503);
        expect(a.body).toMatchObject({
          message: expect.stringContaining('session store is unavailable'),
        });
      }
      process.stdout.write(
        `memcached down: 503s in ${answers.map((a) => Math.round(a.ms)).join(', ')} ms\n`,
      );
    } finally {
      for (const node of NODES) await cluster.restart(node);
    }
    const again = cluster.client(2302);
    expect(
      await eventually(async () => (await login(again, name)).status === 200, 20_000, 500),
    ).toBe(true);
    expect(await isLoggedIn(again)).toBe(true);
  }, 60_000);
});
