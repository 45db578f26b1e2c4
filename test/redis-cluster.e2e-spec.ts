/**
 * Profile `redis-cluster` (3 masters, two replicas each), beyond the guarantee suite: a master
 * SIGKILLed under load from many clients through nginx. A replica takes its slots over; the
 * sessions on the other masters never notice; the failed-over slots' sessions survive; the login
 * limit still counts on every replica together. Figures are printed, not asserted on.
 */
import { describe, expect, it } from '@jest/globals';
import { measureFailover } from '../bench/measurements/failover.js';
import { isAuthenticated, type VirtualClient } from '../cluster/virtual-client.js';
import { clusterNodes } from '../cluster/services/redis-cluster.js';
import { askRedis } from '../cluster/services/redis.js';
import { defined } from '../src/common/defined.js';
import { publicSessionId } from '../src/session/session.types.js';
import type { TestCluster } from './support/cluster.js';
import { useCluster } from './support/cluster.js';
import { eventually } from './support/eventually.js';
import { failoverClients } from './support/failover.js';
import { login, register, uniqueName } from './support/steps.js';

const LOGIN_LIMIT = 5;

const portOf = (cluster: TestCluster, name: string) =>
  defined(
    cluster.status().find((m) => m.name === name),
    `the member ${name}`,
  ).port;
const storePorts = (cluster: TestCluster) =>
  cluster.storeMembers().map((name) => portOf(cluster, name));

/** The Redis key of a client's session: its public id, from the raw id in the signed cookie. */
function sessionKey(client: VirtualClient): string {
  // "s:<id>.<signature>"
  const signed = decodeURIComponent(defined(client.cookies.get('sid'), 'the session cookie'));
  return `sess:${publicSessionId(signed.slice(2, signed.lastIndexOf('.')))}`;
}

/** Whether the node on `port` holds `key` itself (another node's slot answers MOVED). */
const holds = (port: number, key: string) =>
  askRedis<number>(port, ['EXISTS', key]).then(
    (n) => n === 1,
    () => false,
  );

describe('redis-cluster: a master lost', () => {
  const cluster = useCluster('redis-cluster', {
    env: { LOGIN_MAX_ATTEMPTS: String(LOGIN_LIMIT) },
  });
  let killed = '';

  it('master SIGKILLed under load: its replica takes over, other slots never notice, its sessions survive', async () => {
    const pair = defined(await cluster.storeFailover(), "the store's failover pair");
    const clients = await failoverClients(cluster, { readers: 24, writers: 6, firstSubnet: 100 });
    try {
      const victimPort = portOf(cluster, pair.primary);
      const onVictim = await Promise.all(
        clients.readers.map((c) => holds(victimPort, sessionKey(c))),
      );
      // 24 sessions over 3 masters: some on the victim, some elsewhere.
      expect(onVictim.filter(Boolean).length).toBeGreaterThan(0);
      expect(onVictim.filter((v) => !v).length).toBeGreaterThan(0);

      const elsewhere = { reads: 0, failed: 0 };
      const result = await measureFailover({
        cluster,
        ...clients,
        beforeMs: 1500,
        afterMs: 15_000,
        onRead: (i, reply, afterKill) => {
          if (!afterKill || onVictim[i]) return;
          elsewhere.reads++;
          if (!isAuthenticated(reply)) elsewhere.failed++;
        },
      });
      process.stdout.write(
        `redis-cluster: first write ${Math.round(result.firstWriteAfterMs)} ms after the kill; ` +
          `last failure ${Math.round(result.lastFailureAfterMs)} ms after it; ` +
          `${result.requestsAfter} requests after it (failed: ${JSON.stringify(result.failuresByStatus)}): ${result.answered503} × 503, ` +
          `${result.otherFailures} other failures, ${result.hangs} hangs; reads of sessions on ` +
          `other masters: ${elsewhere.reads}, failed ${elsewhere.failed}; logins lost ${result.loginsLost}\n`,
      );
      killed = result.killed;
      expect(result.killed).toBe(pair.primary);
      expect(result.firstWriteAfterMs).toBeGreaterThan(0);
      expect(result.hangs).toBe(0);
      expect(result.otherFailures).toBe(0);
      // Sessions in the other masters' slots: every read after the kill answered, logged in.
      expect(elsewhere.reads).toBeGreaterThan(0);
      expect(elsewhere.failed).toBe(0);
      // The failed-over slots' sessions (and everyone else's) are all still valid.
      expect(result.readersLoggedOut).toBe(0);
      // One of its replicas serves the slots now, and the other replicates it.
      const roles = async () => {
        const now = await clusterNodes(storePorts(cluster).filter((p) => p !== victimPort));
        const [promoted, ...others] = pair.replicas
          .map((name) =>
            defined(
              now.find((n) => n.port === portOf(cluster, name)),
              `${name} among the nodes`,
            ),
          )
          .sort((a, b) => Number(b.master) - Number(a.master));
        return { promoted, others };
      };
      const promoted = defined((await roles()).promoted, 'the promoted replica');
      expect(promoted.master && promoted.slots.some(([from]) => from === 0)).toBe(true);
      expect(
        await eventually(async () => {
          const { others } = await roles();
          return others.length > 0 && others.every((o) => o.masterId === promoted.id);
        }, 10_000),
      ).toBe(true);
    } finally {
      clients.close();
    }
  }, 60_000);

  it('the login limit still counts on every replica together', async () => {
    const client = cluster.client(300);
    const name = uniqueName('limit');
    expect((await register(client, name)).status).toBe(201);
    const statuses: number[] = [];
    let subnet = 301;
    for (const r of cluster.replicas)
      for (let i = 0; i < 2; i++)
        statuses.push((await login(cluster.direct(r, undefined, subnet++), name, 'wrong')).status);
    expect(statuses.sort()).toEqual([401, 401, 401, 401, 401, 429]);
    for (const r of cluster.replicas)
      expect((await login(cluster.direct(r, undefined, subnet++), name)).status).toBe(429);
  });

  it('the old master, restarted, rejoins as a replica', async () => {
    await cluster.restart(killed);
    const port = portOf(cluster, killed);
    expect(
      await eventually(async () => {
        const self = (await clusterNodes([port])).find((n) => n.port === port);
        return self !== undefined && !self.master && !self.failed;
      }, 15_000),
    ).toBe(true);
  }, 30_000);
});
