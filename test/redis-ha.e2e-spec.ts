/**
 * Profile `redis-ha` (a Redis primary, two replicas, three Sentinels), beyond the guarantee suite:
 * the primary SIGKILLed under load from many clients through nginx. A replica is promoted, the
 * app's replicas follow without a restart, sessions made before stay valid, requests meanwhile get a
 * fast 503 (never a hang, never another 5xx); with durable logins, no acknowledged login is lost
 * and logins go on with the old primary still down.
 * A restarted old primary is a replica; one Sentinel lost changes nothing.
 *
 * Figures (time to the first write, 503s, logins lost) are printed, not asserted on: the machine
 * is shared and timing is noisy. The benchmark measures them (npm run bench).
 */
import { describe, expect, it } from '@jest/globals';
import { askRedis } from '../cluster/services/redis.js';
import { measureFailover } from '../bench/measurements/failover.js';
import type { FailoverResult } from '../bench/results.js';
import { defined } from '../src/common/defined.js';
import type { TestCluster } from './support/cluster.js';
import { useCluster, stream } from './support/cluster.js';
import { eventually } from './support/eventually.js';
import { failoverClients } from './support/failover.js';
import { isLoggedIn, login, register, uniqueName } from './support/steps.js';

/** A replica lagging this long (paused) when the primary dies: what async replication loses. */
const LAG_MS = 600;

/** INFO replication of the member `name`, asked directly. */
const replication = (cluster: TestCluster, name: string) =>
  askRedis<string>(portOf(cluster, name), ['INFO', 'replication']);

const portOf = (cluster: TestCluster, name: string) =>
  defined(
    cluster.status().find((m) => m.name === name),
    `the member ${name}`,
  ).port;

/** The store's primary and its replicas now (redis-ha always has them). */
const failoverPair = async (cluster: TestCluster) =>
  defined(await cluster.storeFailover(), "the store's failover pair");

function report(what: string, r: FailoverResult): void {
  process.stdout.write(
    `redis-ha ${what}: first write ${Math.round(r.firstWriteAfterMs)} ms after the kill; ` +
      `last failure ${Math.round(r.lastFailureAfterMs)} ms after it; ` +
      `${r.requestsAfter} requests after it (failed: ${JSON.stringify(r.failuresByStatus)}): ${r.answered503} × 503, ${r.otherFailures} other failures, ` +
      `${r.hangs} hangs (slowest ${Math.round(r.slowestMs)} ms); ` +
      `logins acknowledged ${r.loginsAcknowledged}, lost ${r.loginsLost}\n`,
  );
}

/** What every failover must show, durable logins or not. */
function expectCleanFailover(r: FailoverResult): void {
  expect(r.firstWriteAfterMs).toBeGreaterThan(0); // NaN (no write succeeded) fails here
  expect(r.answered503).toBeGreaterThan(0); // there was a window without a primary...
  expect(r.hangs).toBe(0); // ...answered at once,
  expect(r.otherFailures).toBe(0); // and never with a 500 (or 502/504)
  expect(r.readersLoggedOut).toBe(0); // sessions made before the kill are all still valid
  expect(r.readinessDown).toBe(true); // /health/ready said so meanwhile
  expect(r.readinessBack).toBe(true);
}

describe('redis-ha: Sentinel failover (durable logins off)', () => {
  const cluster = useCluster('redis-ha', { env: { LOGIN_MAX_ATTEMPTS: '1000' } });
  let killed = '';

  it('primary SIGKILLed under load: a replica is promoted, the app follows, only fast 503s meanwhile; lagging replicas lose the last logins', async () => {
    const before = await failoverPair(cluster);
    const replicaPids = cluster.replicaPids();
    const clients = await failoverClients(cluster, { readers: 12, writers: 6, firstSubnet: 100 });
    try {
      const result = await measureFailover({
        cluster,
        ...clients,
        beforeMs: 1500,
        afterMs: 15_000,
        lagMs: LAG_MS,
      });
      report(`durable off, replicas ${LAG_MS} ms behind`, result);
      expectCleanFailover(result);
      killed = result.killed;
      expect(result.killed).toBe(before.primary);
      expect(before.replicas).toContain((await failoverPair(cluster)).primary);
      // Asynchronous replication: what the primary acknowledged while its replica lagged is gone.
      expect(result.loginsLost).toBeGreaterThan(0);
      expect(cluster.replicaPids()).toEqual(replicaPids); // followed without a restart
    } finally {
      clients.close();
    }
  }, 60_000);

  it('the old primary, restarted, is a replica of the new one', async () => {
    const { primary } = await failoverPair(cluster);
    expect(primary).not.toBe(killed);
    await cluster.restart(killed);
    expect(
      await eventually(async () => {
        const info = await replication(cluster, killed);
        return (
          /role:slave/.test(info) &&
          new RegExp(`master_port:${portOf(cluster, primary)}\\b`).test(info) &&
          /master_link_status:up/.test(info)
        );
      }, 15_000),
    ).toBe(true);
    // Both replicas: the one Sentinel pointed at the new primary, and this one (the primary's
    // own count follows the replica's link by a moment).
    expect(
      await eventually(
        async () => /connected_slaves:2/.test(await replication(cluster, primary)),
        10_000,
      ),
    ).toBe(true);
    // And it holds what the new primary has: a login made now is readable on it.
    const client = cluster.client(300);
    expect((await register(client, uniqueName('rejoined'))).status).toBe(201);
    expect(await isLoggedIn(client)).toBe(true);
  }, 30_000);

  it('one Sentinel killed: nothing happens (no failover, every request answered)', async () => {
    const primaryBefore = (await failoverPair(cluster)).primary;
    const name = uniqueName('sentinel');
    const client = cluster.client(301);
    expect((await register(client, name)).status).toBe(201);
    await cluster.kill('sentinel-1');
    try {
      // Longer than the failure detection (1 s) three times over: time for a wrong failover.
      const statuses = await stream(3000, 4, async () => {
        const [read, write] = await Promise.all([
          isLoggedIn(client),
          login(cluster.client(302), name),
        ]);
        return `${String(read)}/${write.status}`;
      });
      expect(new Set(statuses)).toEqual(new Set(['true/200']));
      expect((await failoverPair(cluster)).primary).toBe(primaryBefore);
    } finally {
      await cluster.restart('sentinel-1');
    }
  }, 30_000);
});

describe('redis-ha: Sentinel failover with durable logins (WAIT 1)', () => {
  const cluster = useCluster('redis-ha', {
    env: { REDIS_DURABLE_LOGINS: 'true', LOGIN_MAX_ATTEMPTS: '1000' },
  });

  it('primary SIGKILLed while its replicas lag: no acknowledged login is lost, and logins go on without it', async () => {
    const clients = await failoverClients(cluster, { readers: 12, writers: 6, firstSubnet: 400 });
    try {
      const result = await measureFailover({
        cluster,
        ...clients,
        beforeMs: 1500,
        afterMs: 20_000,
        lagMs: LAG_MS,
        // Not restarted: the new primary has the other replica to confirm each login.
        restartKilled: false,
      });
      report(`durable on, replicas ${LAG_MS} ms behind`, result);
      expectCleanFailover(result);
      expect(result.loginsAcknowledged).toBeGreaterThan(0);
      expect(result.loginsLost).toBe(0);
      // A login sent after the kill was acknowledged, with the old primary still down.
      expect(result.firstWriteAfterMs).toBeLessThan(Infinity);
      expect(cluster.status().find((m) => m.name === result.killed)?.running).toBe(false);
    } finally {
      clients.close();
    }
  }, 60_000);
});
