/**
 * Faults on a real network: clusters in the runner's network mode (every server in a network
 * namespace of its own, cluster/network/), under partitions, one-way cuts, packet loss and slow
 * links that the kernel applies, with clients recording a history for the checker
 * (cluster/faults/history.ts). The schedules are generated (test/support/fault-run.ts; the seed is
 * fixed in CI, FAULT_SEED=<n> tries another), and the classic Sentinel case is a fixed example,
 * checked both ways. As root, as CI runs (the network mode needs it).
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { checkHistory, type HistoryEvent, type Violation } from '../cluster/faults/history.js';
import { serveDashboard } from '../cluster/dashboard/server.js';
import { applyFault, type NetworkFault } from '../cluster/faults/network-fault.js';
import { accessLogOf } from '../cluster/services/nginx.js';
import { askRedis } from '../cluster/services/redis-protocol.js';
import { defined } from '../src/common/defined.js';
import { profileNames, profileOf } from '../cluster/profiles.js';
import { useCluster, type TestCluster } from './support/cluster.js';
import { dashboardCommand, nextSnapshot } from './support/dashboard.js';
import { eventually, sleep } from './support/eventually.js';
import { expectPromisesKept, faultSeed, runSchedule, scheduleOf } from './support/fault-run.js';
import { outcomeOf, recordOperation, recordRead } from './support/history-clients.js';
import type { HttpClient } from './support/http-client.js';
import { PASSWORD, register, uniqueName } from './support/steps.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
/** Every replica's copies agree within rounds of anti-entropy, the store's after a resync. */
const CONVERGE_MS = 30_000;

/** Any split of `members` in two (those in neither side keep their links). */
const anySplit = (members: readonly string[]): fc.Arbitrary<NetworkFault> =>
  fc.shuffledSubarray([...members], { minLength: 2 }).chain((chosen) =>
    fc.integer({ min: 1, max: chosen.length - 1 }).map((k): NetworkFault => ({
      kind: 'partition',
      sides: [chosen.slice(0, k), chosen.slice(k)],
    })),
  );
/** One member cut off from all the others. */
const oneCutOff = (members: readonly string[]): fc.Arbitrary<NetworkFault> =>
  fc.constantFrom(...members).map((m): NetworkFault => ({
    kind: 'partition',
    sides: [[m], members.filter((x) => x !== m)],
  }));
/** A one-way cut, a lossy member or a slow one. */
const linkFaults = (members: readonly string[]): fc.Arbitrary<NetworkFault>[] => [
  fc
    .tuple(fc.constantFrom(...members), fc.constantFrom(...members))
    .filter(([from, to]) => from !== to)
    .map(([from, to]): NetworkFault => ({ kind: 'cut', from, to })),
  fc
    .record({ member: fc.constantFrom(...members), probability: fc.integer({ min: 5, max: 30 }) })
    .map((f): NetworkFault => ({
      kind: 'loss',
      member: f.member,
      probability: f.probability / 100,
    })),
  fc
    .record({ member: fc.constantFrom(...members), ms: fc.integer({ min: 5, max: 50 }) })
    .map((f): NetworkFault => ({ kind: 'slow', ...f })),
];
const withPartition = (steps: ReadonlyArray<{ fault: NetworkFault }>) =>
  steps.some((s) => s.fault.kind === 'partition');

/** The generated schedule of `fault` under recorded load, then the history check. */
async function scheduleHolds(
  cluster: TestCluster,
  fault: fc.Arbitrary<NetworkFault>,
  promises: Parameters<typeof expectPromisesKept>[1]['promises'],
): Promise<void> {
  const seed = faultSeed();
  const steps = scheduleOf(fault, seed, { minLength: 3, maxLength: 4, filter: withPartition });
  const recorded = await runSchedule({
    client: (n) => cluster.client(100 + n),
    seed,
    steps,
    apply: (f) => applyFault(defined(cluster.faults, 'the network mode'), f),
    heal: () => defined(cluster.faults, 'the network mode').heal(),
  });
  try {
    await expectPromisesKept(recorded, {
      replicas: cluster.replicas,
      direct: (r, jar) => cluster.direct(r, jar),
      promises,
      convergeMs: CONVERGE_MS,
    });
  } catch (error) {
    // What to keep as a fixed example: the schedule, and the seed that made the choices.
    const example = JSON.stringify({ seed, steps });
    throw new Error(`${(error as Error).message}\nschedule (FAULT_SEED=${seed}): ${example}`, {
      cause: error,
    });
  }
}

/**
 * Jepsen's Redis case, on a redis-ha cluster: the primary is cut off with one replica of the app
 * still writing to it (and, `withReplica`, one of the store's replicas beside it); the Sentinels,
 * on the other side, promote another server; once healed, the old primary follows the new one
 * and drops what it took meanwhile. Logins through app-1 (on the old primary's side) and logouts
 * of sessions made before the cut, then every session read on the majority's side.
 */
function sentinelCases(cluster: TestCluster): void {
  const portOf = (member: string) =>
    defined(
      cluster.status().find((m) => m.name === member),
      member,
    ).port;

  /** The replicas follow the primary and have all it has (offsets equal). */
  const inSync = async () => {
    const { primary, replicas } = defined(await cluster.storeFailover(), 'a redis-ha failover');
    const offset = (info: string) => /(?:master_repl_offset):(\d+)/.exec(info)?.[1];
    const main = await askRedis<string>(portOf(primary), ['INFO', 'replication']);
    for (const r of replicas) {
      const info = await askRedis<string>(portOf(r), ['INFO', 'replication']).catch(() => '');
      if (!/role:slave/.test(info) || !/master_link_status:up/.test(info)) return false;
      if (offset(info) !== offset(main)) return false;
    }
    return true;
  };

  async function isolatedPrimary(o: { durable: boolean; withReplica: boolean }): Promise<{
    violations: Violation[];
    history: HistoryEvent[];
    minority: HistoryEvent[];
  }> {
    await cluster.restart('app-1', { REDIS_DURABLE_LOGINS: String(o.durable) });
    const history: HistoryEvent[] = [];
    const jars = new Map<string, HttpClient>();
    const names: string[] = [];
    for (let u = 0; u < 4; u++) {
      const client = cluster.client(60 + u);
      const name = uniqueName('sentinel');
      expect((await register(client, name)).status).toBe(201);
      names.push(name);
    }
    const writer = (n: number) => cluster.direct('app-1', undefined, 70 + n);
    const logIn = async (client: HttpClient, session: string, name: string) => {
      const e = await recordOperation(
        history,
        session,
        { kind: 'login' },
        () =>
          client.post('/api/auth/login', {
            json: { username: name, password: PASSWORD },
            timeoutMs: 3000,
          }),
        (res) => ({ outcome: outcomeOf(res, [200, 201]) }),
      );
      if (e.outcome === 'ok') jars.set(session, client.clone());
      return e;
    };
    // Sessions made before the cut, on every server of the store.
    const before = names.map((name, i) => ({
      name,
      client: writer(i),
      session: `${name}#before`,
    }));
    for (const b of before) expect((await logIn(b.client, b.session, b.name)).outcome).toBe('ok');
    expect(await eventually(inSync, CONVERGE_MS, 200)).toBe(true);

    const failover = defined(await cluster.storeFailover(), 'a redis-ha failover');
    // The Sentinels wait twice their failover timeout before failing over again.
    if (failover.againInMs) await sleep(failover.againInMs);
    const { primary, replicas } = failover;
    const faults = defined(cluster.faults, 'the network mode');
    const beside = o.withReplica ? replicas.slice(0, 1) : [];
    const majority = [
      ...replicas.filter((r) => !beside.includes(r)),
      ...['sentinel-1', 'sentinel-2', 'sentinel-3', 'app-2', 'app-3'],
    ];
    await faults.partition([[primary, ...beside, 'app-1'], majority]);
    const minorityFrom = performance.now();
    try {
      const promoted = async () =>
        defined(await cluster.storeFailover(), 'a redis-ha failover').primary !== primary;
      expect(await eventually(promoted, CONVERGE_MS, 200)).toBe(true);
      // The writers on the old primary: new logins, and logouts of the sessions from before.
      for (const [i, name] of names.entries()) await logIn(writer(10 + i), `${name}#cut`, name);
      for (const b of before)
        await recordOperation(
          history,
          b.session,
          { kind: 'logout' },
          () => b.client.post('/api/auth/logout', { timeoutMs: 3000 }),
          (res) => ({ outcome: outcomeOf(res, [200, 201, 204]) }),
        );
      // The majority's side serves: logins through app-2 are acknowledged (once it follows the
      // new primary) and kept. (With a replica on the old primary's side, the new primary has
      // none on its own: durable logins wait for one until the heal.)
      const name = defined(names[0], 'a user');
      const majorityLogin = async () =>
        (await logIn(cluster.direct('app-2', undefined, 80), `${name}#majority`, name)).outcome ===
        'ok';
      if (!o.withReplica) expect(await eventually(majorityLogin, CONVERGE_MS, 500)).toBe(true);
    } finally {
      await faults.heal();
    }
    const minority = history.filter(
      (e) => e.invokedAt >= minorityFrom && !e.session.endsWith('#majority'),
    );
    // Healed: the old primary follows the new one, and has what it has.
    expect(await eventually(inSync, CONVERGE_MS, 500)).toBe(true);
    const judgeFrom = performance.now();
    for (const [session, jar] of jars) {
      const reader = cluster.direct('app-2', jar);
      await recordRead(history, session, reader);
    }
    const violations = checkHistory(
      history,
      { loginsKept: true, logoutFinal: true, revokeFinal: false, writesKept: false },
      { judgeFrom },
    );
    return { violations, history, minority };
  }

  it('without durable logins: the isolated primary acknowledges logins and logouts that the heal undoes, and the checker catches both', async () => {
    const { violations, minority } = await isolatedPrimary({ durable: false, withReplica: false });
    expect(minority.filter((e) => e.outcome === 'ok').length).toBeGreaterThan(0);
    const kinds = new Set(violations.map((v) => v.kind));
    expect(kinds).toContain('lost-login');
    expect(kinds).toContain('resurrected');
    for (const v of violations) expect(v.session).not.toMatch(/#majority$/);
  }, 180_000);

  it('with durable logins: the isolated primary acknowledges no login or logout, and nothing acknowledged is lost', async () => {
    const { violations, minority, history } = await isolatedPrimary({
      durable: true,
      withReplica: false,
    });
    expect(minority.filter((e) => e.op.kind !== 'read' && e.outcome === 'ok')).toEqual([]);
    expect(violations).toEqual([]);
    // Not vacuous: the majority's login was acknowledged, and is read back logged in.
    const kept = history.filter(
      (e) => e.session.endsWith('#majority') && e.op.kind === 'read' && e.saw?.authenticated,
    );
    expect(kept.length).toBeGreaterThan(0);
  }, 180_000);

  it('the limit: with a replica on its side, the old primary gets WAIT 1 answered, and even durable logins are lost (the checker catches it)', async () => {
    const { violations, minority } = await isolatedPrimary({ durable: true, withReplica: true });
    expect(
      minority.filter((e) => e.op.kind === 'login' && e.outcome === 'ok').length,
    ).toBeGreaterThan(0);
    expect(violations.map((v) => v.kind)).toContain('lost-login');
  }, 180_000);
}

const tested = profileNames.filter((name) => profileOf(name).networkFaults);

(isRoot ? describe : describe.skip)('faults on a real network (network mode, as root)', () => {
  describe.each(tested)('%s', (name) => {
    const declared = defined(profileOf(name).networkFaults, `${name}'s network promises`);
    const cluster = useCluster(name, { network: 'netns', env: { ...declared.env } });
    const members = () => cluster.status().map((m) => m.name);

    it('runs each member at an address of its own, unreachable from the root namespace; nginx sees the clients', async () => {
      const faults = defined(cluster.faults, 'the network mode');
      const addresses = members().map((m) => faults.address(m));
      expect(new Set(addresses).size).toBe(addresses.length);
      for (const a of addresses) expect(a).toMatch(/^10\.213\.\d+\.\d+$/);
      const { stderr } = await run('ip', [
        'route',
        'get',
        defined(addresses[0], 'an address'),
      ]).catch((err: unknown) => err as { stderr: string });
      expect(stderr).toMatch(/unreachable|No route/i);
      // nginx reaches the replicas at their addresses on the network...
      const res = await cluster.client().get('/health/ready');
      expect(res.headers['x-upstream-addr']).toMatch(/^10\.213\./);
      // ...and the app sees the client's own address (PROXY protocol through the runner's forward).
      const client = cluster.client(7);
      expect((await register(client, uniqueName('netns'))).status).toBe(201);
      const listed = (await client.get('/api/sessions')).body as {
        sessions: Array<{ ip: string }>;
      };
      expect(listed.sessions.map((s) => s.ip)).toEqual(['127.0.7.1']);
    });

    if (name === 'replicated')
      it("the dashboard injects a fault from the CLI's words and heals it, with both on the timeline; bad words get the usage", async () => {
        const dashboard = await serveDashboard(cluster, {
          nginxAccessLog: accessLogOf(cluster.workDir),
        });
        const command = (body: unknown) => dashboardCommand(dashboard, body);
        const livePeers = async (replica: string) => {
          const res = await fetch(`${cluster.replicaUrl(replica)}/health/ready`);
          const ready = (await res.json()) as {
            checks?: { sessionStore?: { stats?: { livePeers?: string[] } } };
          };
          return ready.checks?.sessionStore?.stats?.livePeers ?? [];
        };
        try {
          const bad = await command({ cmd: 'fault', words: 'partition app-1' });
          expect(bad).toMatchObject({
            status: 400,
            body: { error: expect.stringMatching(/partition <a,b> <c,d>/) },
          });
          const cut = await command({ cmd: 'fault', words: 'partition app-1 app-2,app-3' });
          expect(cut).toMatchObject({
            status: 200,
            body: { message: expect.stringMatching(/\{app-1\} \| \{app-2, app-3\}/) },
          });
          // The peers notice: app-1 hears from no one (a peer silent for 2 s is down).
          expect(
            await eventually(async () => (await livePeers('app-1')).length === 0, 10_000),
          ).toBe(true);
          expect((await command({ cmd: 'heal' })).status).toBe(200);
          expect(
            await eventually(async () => (await livePeers('app-1')).length === 2, 10_000),
          ).toBe(true);
          const events = (await nextSnapshot(dashboard)).events.filter(
            (e) => e.member === 'network',
          );
          expect(events.map((e) => e.what)).toEqual([
            'partition: {app-1} | {app-2, app-3}',
            'every fault healed',
          ]);
        } finally {
          await dashboard.close();
        }
      });

    if (name === 'redis-ha')
      describe('the Sentinel primary cut off with writers on it', () => {
        sentinelCases(cluster);
      });

    // The row's promises (cluster/profiles.ts, networkFaults), under a schedule of partitions
    // (any split of the members, or one member cut off, as the row says), one-way cuts, loss and
    // slow links.
    it(`a generated schedule of network faults with a partition (${declared.partitions}): once healed and converged, the row's promises hold (history check)`, async () => {
      // Back to the row's settings (a case above may have changed app-1's).
      if (declared.env) await cluster.restart('app-1', { ...declared.env });
      const all = members();
      const partitions = declared.partitions === 'any-split' ? anySplit(all) : oneCutOff(all);
      await scheduleHolds(cluster, fc.oneof(partitions, ...linkFaults(all)), declared.promises);
    }, 180_000);

    if (name === 'replicated')
      it('scales in and out again: the new replica joins the network at its address and serves', async () => {
        await cluster.scale(2);
        await cluster.scale(3);
        const faults = defined(cluster.faults, 'the network mode');
        expect(faults.address('app-3')).toMatch(/^10\.213\./);
        const res = await cluster.direct('app-3').get('/health/ready');
        expect(res.status).toBe(200);
        // A fault reaches it like any member.
        await faults.partition([['app-3'], ['app-1', 'app-2']]);
        await faults.heal();
      }, 120_000);

    // Last: the cluster stopped, nothing of its network is left (namespaces, the route).
    it('stops without leaving its namespaces or its route behind', async () => {
      const address = defined(cluster.faults, 'the network mode').address('nginx');
      const index = defined(address.split('.')[2], 'the network index');
      await cluster.stop();
      const { stdout: left } = await run('ip', ['netns', 'list']);
      expect(left.split('\n').filter((l) => l.startsWith(`sl${index}-`))).toEqual([]);
      const { stdout: routes } = await run('ip', ['route', 'show', 'type', 'unreachable']);
      expect(routes).not.toContain(`10.213.${index}.0/24`);
    });
  });
});
