import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { benchResult, loadSummary, topology } from './result-fixture.js';
import type { FailoverResult, FaultCell, RateLatency, TopologyResult } from './results.js';
import { evaluateTargets, verdict, type TargetResult } from './targets.js';

const target = (id: string, topologies: TopologyResult[]): TargetResult =>
  defined(
    evaluateTargets(benchResult(topologies)).find((t) => t.id === id),
    `target ${id}`,
  );

/** A topology whose whoami figures are the fixture's but for `figures`. */
const measured = (name: string, figures: Partial<TopologyResult['throughput']>): TopologyResult => {
  const t = topology(name);
  return { ...t, throughput: { ...t.throughput, ...figures } };
};

/** The counts of a replication result that passes T9: each T8 case adds its lag figures. */
const REPLICATION_COUNTS = {
  reads: 10_000,
  messagesPerRead: 0,
  accessBatchesPerSecond: 1.5,
  writes: 200,
  messagesPerPeerPerWrite: 1,
  bytesPerWrite: 900,
};

describe('evaluateTargets', () => {
  it('judges T1 on every Redis command per read, and names a touch as the reason', () => {
    const lean = topology(
      'redis',
      {},
      { storeCommandsPerRead: { label: 'Redis', total: 1.0, byName: { get: 1 } } },
    );
    const touching = topology(
      'redis',
      {},
      { storeCommandsPerRead: { label: 'Redis', total: 2.0, byName: { get: 1, expire: 1 } } },
    );

    expect(target('T1', [lean]).pass).toBe(true);
    const t1 = target('T1', [touching]);
    expect(t1.pass).toBe(false);
    expect(t1.figure).toContain('expire 1.000');
    expect(t1.reason).toContain('disableTouch');
  });

  it('passes T2 at one statement per read only where sessions live in Postgres', () => {
    const pg = (perRead: number) => ({
      ...topology('postgres', {}, { postgresStatementsPerRead: perRead }),
      store: 'postgres',
    });
    expect(target('T2', [topology('redis'), pg(1)]).pass).toBe(true);
    expect(target('T2', [topology('redis'), pg(2)]).pass).toBe(false);
    expect(target('T2', [topology('redis', {}, { postgresStatementsPerRead: 1 })]).pass).toBe(
      false,
    );
  });

  it('judges T17 on redis ÷ express-notouch replica CPU per read, not measured without both', () => {
    const cpu = (name: string, us: number) => measured(name, { replicaCpuMicrosPerRead: us });
    expect(target('T17', [cpu('redis', 160), cpu('express-notouch', 200)]).pass).toBe(true);
    const costly = target('T17', [cpu('redis', 442), cpu('express-notouch', 319)]);
    expect(costly.pass).toBe(false);
    expect(costly.figure).toBe('1.39 (442 ÷ 319 µs)');
    expect(target('T17', [cpu('redis', 160)]).pass).toBe(null);
    expect(target('T17', [cpu('redis', NaN), cpu('express-notouch', 200)]).pass).toBe(null);
  });

  it('judges T12 on postgres ÷ redis throughput, and is not measured without both', () => {
    const rps = (name: string, n: number) => measured(name, { rps: n });
    expect(target('T12', [rps('postgres', 800), rps('redis', 1000)]).pass).toBe(true);
    const slow = target('T12', [rps('postgres', 700), rps('redis', 1000)]);
    expect(slow.pass).toBe(false);
    expect(slow.figure).toContain('0.700');
    expect(target('T12', [rps('postgres', 800)]).pass).toBe(null);
  });

  it('fails T2 when any app profile reached Postgres on a read', () => {
    const clean = [topology('naive'), topology('redis')];
    const leaky = [topology('naive'), topology('redis', {}, { postgresStatementsPerRead: 1 })];

    expect(target('T2', clean).pass).toBe(true);
    expect(target('T2', leaky).pass).toBe(false);
    expect(target('T2', leaky).figure).toContain('redis 1.000');
  });

  it('compares throughput as ratios: T3 redis ÷ sticky ≥ 0.9', () => {
    const sticky = topology('sticky', {}, { rps: 1000 });

    expect(target('T3', [topology('redis', {}, { rps: 900 }), sticky]).pass).toBe(true);
    expect(target('T3', [topology('redis', {}, { rps: 899 }), sticky]).pass).toBe(false);
  });

  it('measures T4 against the like-for-like Express peer when it ran, else the default one', () => {
    const redis = topology('redis', {}, { rps: 850 });
    const express = topology('express', {}, { rps: 800 });
    const notouch = topology('express-notouch', {}, { rps: 1000 });

    expect(target('T4', [redis, express, notouch]).figure).toContain('express-notouch');
    expect(target('T4', [redis, express, notouch]).pass).toBe(true);
    expect(target('T4', [redis, express]).figure).toContain('express)');
  });

  it('says "not measured" rather than pass when a topology was left out', () => {
    const t3 = target('T3', [topology('redis')]);

    expect(t3.pass).toBeNull();
    expect(verdict(t3)).toBe('not measured');
    expect(t3.reason).toContain('sticky');
  });

  it('judges T5 on the ratio of medians and T6 on the worse of the two memory figures', () => {
    const growth = {
      store: 'Redis',
      small: 1000,
      large: 100_000,
      p50Small: [10, 11, 30],
      p50Large: [11, 12, 9],
      ratio: 1.0,
    };
    const memory = {
      sessionsCreated: 1000,
      store: {
        label: 'Redis',
        usedMemoryPerSession: 320,
        sample: { count: 10, bytes: 200, valueBytes: 100, example: '{}' },
      },
    };
    const redis = topology('redis', { growth, memory });

    expect(target('T5', [redis]).pass).toBe(true);
    expect(target('T6', [redis]).pass).toBe(false);
    expect(target('T6', [redis]).reason).toContain('~120 B of hash and expiry tables');
  });

  it('fails T7 on a single failed read or logged-out client', () => {
    const kill = {
      replica: 'app-2',
      killedAtSeconds: 3,
      seconds: 9,
      requests: 10_000,
      failed: 0,
      clients: 100,
      loggedOut: 0,
      authenticatedBefore: 1,
      authenticatedAfter: 1,
    };

    expect(target('T7', [topology('redis', { kill })]).pass).toBe(true);
    expect(target('T7', [topology('redis', { kill: { ...kill, failed: 1 } })]).pass).toBe(false);
    expect(target('T7', [topology('redis', { kill: { ...kill, loggedOut: 1 } })]).pass).toBe(false);
  });

  it('judges T14 on the NAT skew of sticky-cookie, beside sticky, and never passes an idle replica', () => {
    const nat = (skew: number | null, shares: [number, number, number]) =>
      loadSummary({ skew, shares: { 'app-1': shares[0], 'app-2': shares[1], 'app-3': shares[2] } });
    const sticky = topology('sticky', { nat: nat(null, [1, 0, 0]) });
    const even = topology('sticky-cookie', { nat: nat(1.08, [0.34, 0.34, 0.32]) });
    const uneven = topology('sticky-cookie', { nat: nat(1.5, [0.4, 0.33, 0.27]) });
    const idle = topology('sticky-cookie', { nat: nat(null, [0.5, 0.5, 0]) });

    const t14 = target('T14', [sticky, even]);
    expect(t14.pass).toBe(true);
    expect(t14.figure).toBe(
      '1.08 (shares 34 % / 34 % / 32 %); sticky (ip_hash): ∞ (one replica served everything)',
    );
    expect(target('T14', [uneven]).pass).toBe(false);
    expect(target('T14', [idle]).pass).toBe(false);
    expect(target('T14', [idle]).reason).toContain('got no client');
    expect(target('T14', [sticky]).pass).toBeNull();
  });

  it('judges T14 on the clients pinned per replica where counted, the request shares beside it', () => {
    const pinned = (clients: [number, number, number], skew: number) =>
      topology('sticky-cookie', {
        nat: loadSummary({
          skew: 1.5,
          shares: { 'app-1': 0.4, 'app-2': 0.33, 'app-3': 0.27 },
          clientsPerReplica: { 'app-1': clients[0], 'app-2': clients[1], 'app-3': clients[2] },
          clientSkew: skew,
        }),
      });

    const even = target('T14', [pinned([100, 101, 99], 101 / 99)]);
    expect(even.pass).toBe(true); // requests at 1.5 follow speed; the pinning was even
    expect(even.figure).toBe(
      'clients 1.02 (100 / 101 / 99); requests 1.50 (shares 40 % / 33 % / 27 %)',
    );
    expect(target('T14', [pinned([150, 100, 50], 3)]).pass).toBe(false);
  });

  it('judges T8 on the async lag p99 and T9 on messages per read and per peer per write', () => {
    const replication = {
      ...REPLICATION_COUNTS,
      lagP50: 0.4,
      lagP99: 3.2,
      staleReads: {
        async: { writes: 50, stale: 1, rate: 0.02 },
        sync: { writes: 50, stale: 0, rate: 0 },
      },
      syncTimeouts: 0,
    };
    const ok = [topology('replicated', { replication })];

    expect(target('T8', ok).pass).toBe(true);
    expect(target('T9', ok).pass).toBe(true);
    expect(
      target('T8', [topology('replicated', { replication: { ...replication, lagP99: 12 } })]).pass,
    ).toBe(false);
    expect(
      target('T9', [
        topology('replicated', { replication: { ...replication, messagesPerRead: 0.001 } }),
      ]).pass,
    ).toBe(false);
    expect(
      target('T9', [
        topology('replicated', { replication: { ...replication, messagesPerPeerPerWrite: 2 } }),
      ]).pass,
    ).toBe(false);
    expect(target('T8', [topology('redis')]).pass).toBeNull();
  });

  it('judges T19 on sync mode’s stale reads only, and leaves it unmeasured without sync', () => {
    const stale = (sync?: number) => ({
      ...REPLICATION_COUNTS,
      lagP50: 1,
      lagP99: 3,
      staleReads: {
        async: { writes: 200, stale: 9, rate: 0.045 },
        ...(sync === undefined ? {} : { sync: { writes: 200, stale: sync, rate: sync / 200 } }),
      },
    });

    expect(target('T19', [topology('replicated', { replication: stale(0) })]).pass).toBe(true);
    expect(target('T19', [topology('replicated', { replication: stale(1) })]).pass).toBe(false);
    expect(target('T19', [topology('replicated', { replication: stale() })]).pass).toBeNull();
  });

  it('judges T8 on the lag to applied at 80 % load where measured', () => {
    const at = (appliedP99: number) => ({
      ...REPLICATION_COUNTS,
      lagP50: 30,
      lagP99: 90, // flat out: not what T8 judges once the bounded loads are there
      appliedP99: 95,
      staleReads: { async: { writes: 50, stale: 1, rate: 0.02 } },
      bounded: [
        {
          share: 0.5,
          readsPerSecond: 1000,
          writes: 100,
          lagP50: 1,
          lagP99: 3,
          appliedP99: 4,
          loopDelayP99: 2,
        },
        {
          share: 0.8,
          readsPerSecond: 1600,
          writes: 100,
          lagP50: 2,
          lagP99: 5,
          appliedP99,
          loopDelayP99: 4,
        },
      ],
    });

    const ok = target('T8', [topology('replicated', { replication: at(7.5) })]);
    expect(ok.pass).toBe(true);
    expect(ok.figure).toContain('applied p99 7.5 ms (visible 5.0 ms)');
    expect(target('T8', [topology('replicated', { replication: at(10.5) })]).pass).toBe(false);
  });

  it('explains a T8 failure with the run’s own figures: handling, loop delay, the load, the bounded loads', () => {
    const replication = {
      ...REPLICATION_COUNTS,
      lagP50: 6,
      lagP99: 48,
      handlingP99: 0.7,
      loopDelayP99: 41,
      readers: 36,
      readLatency: { p50: 22, p99: 182.3 },
      readsPerSecond: 1500,
      bounded: [
        { share: 0.25, readsPerSecond: 370, writes: 200, lagP50: 1, lagP99: 7.5, loopDelayP99: 6 },
      ],
      staleReads: {
        async: { writes: 50, stale: 1, rate: 0.02 },
        sync: { writes: 50, stale: 0, rate: 0 },
      },
      syncTimeouts: 0,
    };
    const t8 = target('T8', [topology('replicated', { replication })]);

    expect(t8.pass).toBe(false);
    expect(t8.reason).toContain('took p99 0.7 ms');
    expect(t8.reason).toContain('timers ran p99 41.0 ms late');
    expect(t8.reason).toContain('36 clients send back to back');
    // Request latency has no 100 ms ceiling: only the replicas' histograms have.
    expect(t8.reason).toContain('whoami p50 22.0 ms, p99 182.3 ms');
    expect(t8.reason).toContain('25 % (370 reads/s): p99 7.5 ms');
    expect(t8.reason).toContain('Fix:');
    // Past the histograms' last bucket the figure says so rather than print that bucket's edge.
    const beyond = { ...replication, lagP99: 100.1 };
    expect(target('T8', [topology('replicated', { replication: beyond })]).figure).toContain(
      'p99 ≥ 100 ms',
    );
  });

  it('explains a T8 failure of a run that measured the merge apart: visible, merged, loop delay', () => {
    const replication = {
      ...REPLICATION_COUNTS,
      lagP50: 1,
      lagP99: 14,
      appliedP50: 2,
      appliedP99: 31.5,
      handlingP99: 20,
      loopDelayP99: 60,
      staleReads: { async: { writes: 50, stale: 0, rate: 0 } },
    };
    const t8 = target('T8', [topology('replicated', { replication })]);

    expect(t8.pass).toBe(false);
    expect(t8.reason).toContain('channel thread');
    expect(t8.reason).toContain('merged it p99 31.5 ms after the write');
    expect(t8.reason).toContain('timers p99 60.0 ms late');
    expect(t8.reason).not.toContain('took p99');
  });

  it('judges T10 on copies per session (exactly 2), messages per write (≤ 1) and per read (0)', () => {
    const backup = {
      sessions: 1000,
      copiesPerSession: 2,
      heldPerReplica: {
        'app-1': { primary: 334, backup: 333, proxy: 333 },
        'app-2': { primary: 333, backup: 334, proxy: 333 },
        'app-3': { primary: 333, backup: 333, proxy: 334 },
      },
      reads: 2000,
      messagesPerRead: 0,
      writes: 30,
      messagesPerWrite: 1,
      bytesPerWrite: 590,
      firstRequestAfterCrashMs: 116,
      nextRequestMs: 4,
      ackTimeouts: 0,
    };
    const measured = (over: Partial<typeof backup>) => [
      topology('backup', { backup: { ...backup, ...over } }),
    ];

    const pass = target('T10', measured({}));
    expect(pass.pass).toBe(true);
    expect(pass.figure).toContain('2.00 copies per session (1,000 sessions)');
    expect(pass.figure).toContain('1.00 messages per write (30 writes, 590 B)');
    // A demoted replica that kept its copy, or a backup not re-created after a member left.
    const three = target('T10', measured({ copiesPerSession: 2.01 }));
    expect(three.pass).toBe(false);
    expect(three.reason).toContain('More than 2 copies');
    expect(target('T10', measured({ copiesPerSession: 1.99 })).pass).toBe(false);
    // The delta to the backup and nothing else; a read on the primary sends nothing.
    expect(target('T10', measured({ messagesPerWrite: 1.05 })).pass).toBe(false);
    expect(target('T10', measured({ messagesPerRead: 0.001 })).pass).toBe(false);
    // Not measured: no backup topology, or it measured no writes or no sessions.
    expect(target('T10', [topology('replicated')]).pass).toBeNull();
    expect(target('T10', measured({ writes: 0 })).pass).toBeNull();
    expect(target('T10', measured({ sessions: 0 })).pass).toBeNull();
  });

  it('judges T11 with durable logins on: logins lost, and recovery', () => {
    const run: FailoverResult = {
      killed: 'redis-1',
      replicas: ['redis-2', 'redis-3'],
      firstWriteAfterMs: 2500,
      lastFailureAfterMs: 3000,
      requestsAfter: 1000,
      answered503: 40,
      otherFailures: 0,
      hangs: 0,
      failuresByStatus: { 503: 40 },
      slowestMs: 900,
      loginsAcknowledged: 50,
      loginsLost: 0,
      readersLoggedOut: 0,
      readinessDown: true,
      readinessBack: true,
      lagMs: 600,
    };
    const ha = (off: Partial<FailoverResult>, on: Partial<FailoverResult>) =>
      topology('redis-ha', { failover: { off: { ...run, ...off }, on: { ...run, ...on } } });

    expect(target('T11', [topology('redis')]).pass).toBeNull(); // not measured
    const pass = target('T11', [ha({ loginsLost: 9 }, {})]);
    expect(pass.pass).toBe(true); // losses with durable logins off are the point, not a failure
    expect(pass.figure).toContain('lost 0 of 50 (off: 9 of 50)');
    expect(target('T11', [ha({}, { loginsLost: 1 })]).pass).toBe(false);
    // Recovery is the durable run's: a slow one with durable logins off alone does not fail it.
    expect(target('T11', [ha({ lastFailureAfterMs: 7000 }, {})]).pass).toBe(true);
    const slow = target('T11', [ha({}, { lastFailureAfterMs: 7000 })]);
    expect(slow.pass).toBe(false);
    expect(slow.reason).toContain('7.0 s with durable logins on');
    expect(slow.figure).toContain('recovered 7.0 s after the kill (off: 3.0 s)');
  });

  const cell = (fault: string, over: Partial<FaultCell> = {}): FaultCell => ({
    fault,
    clients: 300,
    requests: 40_000,
    failed: 0,
    loggedOut: 0,
    sessionsLost: 0,
    faultMs: 20_000,
    recoveryMs: 0,
    ...over,
  });

  it("judges T15: nothing lost where the row promises it, else the routing's theory within 20 %", () => {
    const promise = topology('redis', { faults: [cell('scale')] });
    // ip_hash keeps 1 in 15 clients over 3 → 5 → 2: 280 of 300 logged out in theory.
    const sticky = (loggedOut: number) =>
      topology('sticky', { faults: [cell('scale', { loggedOut, sessionsLost: 100 })] });

    expect(target('T15', [promise, sticky(282)]).pass).toBe(true);
    expect(target('T15', [promise, sticky(282)]).figure).toContain('theory 93 %');
    expect(target('T15', [promise, sticky(200)]).pass).toBe(false);
    expect(
      target('T15', [topology('redis', { faults: [cell('scale', { failed: 1 })] })]).pass,
    ).toBe(false);
    expect(
      target('T15', [topology('redis', { faults: [cell('scale', { loggedOut: 1 })] })]).pass,
    ).toBe(false);
    expect(target('T15', [topology('redis')]).pass).toBeNull();
  });

  it('judges T18 on failed requests everywhere, and on logouts only where a graceful leave keeps sessions', () => {
    const rolling = (name: 'redis' | 'sticky', over: Partial<FaultCell>) =>
      topology(name, { faults: [cell('rolling-restart', over)] });

    expect(target('T18', [rolling('redis', {}), rolling('sticky', { loggedOut: 300 })]).pass).toBe(
      true,
    );
    expect(target('T18', [rolling('sticky', { failed: 3 })]).pass).toBe(false);
    expect(target('T18', [rolling('redis', { loggedOut: 1 })]).pass).toBe(false);
    expect(target('T18', [topology('redis')]).pass).toBeNull();
  });

  it('judges T16 at 80 % load: p99 within 5 × p50, p99.9 within 250 ms, and never a discarded run', () => {
    const at80 = (name: 'redis' | 'sticky' | 'bare', over: Partial<RateLatency>): TopologyResult =>
      topology(name, {
        latency: [
          {
            label: '80 %',
            ratePerSecond: 2000,
            scheduled: 12_000,
            answered: 12_000,
            unanswered: 0,
            failed: 0,
            p50: 2,
            p99: 9,
            p999: 40,
            max: 60,
            serviceP99: 8,
            generatorLagP99: 1,
            behind: false,
            attempts: 1,
            ...over,
          },
        ],
      });

    expect(target('T16', [at80('redis', {}), at80('sticky', {})]).pass).toBe(true);
    expect(target('T16', [at80('redis', { p99: 11 })]).pass).toBe(false);
    expect(target('T16', [at80('redis', { p999: 251 })]).pass).toBe(false);
    expect(target('T16', [at80('redis', { failed: 1 })]).pass).toBe(false);
    const discarded = target('T16', [at80('redis', { behind: true, generatorLagP99: 30 })]);
    expect(discarded.pass).toBe(false);
    expect(discarded.figure).toContain('discarded');
    expect(target('T16', [topology('redis')]).pass).toBeNull();

    // The bare peer is the machine's floor: never judged, and named in the reason when the row fails.
    const floor = target('T16', [at80('redis', { p99: 11 }), at80('bare', { p50: 1, p99: 12 })]);
    expect(floor.pass).toBe(false);
    expect(floor.figure).not.toContain('bare');
    expect(floor.reason).toMatch(
      /bare node:http .*p50 1\.0, p99 12\.0 ms \(12\.0 ×\).*no code of ours/,
    );
    expect(target('T16', [at80('redis', {}), at80('bare', { p99: 50 })]).pass).toBe(true);
  });
});
