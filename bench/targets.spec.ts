import { describe, expect, it } from '@jest/globals';
import { benchResult, topology } from './result-fixture.js';
import type { FailoverResult, TopologyResult } from './results.js';
import { evaluateTargets, verdict, type TargetResult } from './targets.js';

const target = (id: string, topologies: TopologyResult[]): TargetResult =>
  evaluateTargets(benchResult(topologies)).find((t) => t.id === id)!;

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

  it('judges T11 on logins lost with durable logins on and on recovery with them off', () => {
    const run: FailoverResult = {
      killed: 'redis-1',
      replica: 'redis-2',
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
    const slow = target('T11', [ha({ lastFailureAfterMs: 7000 }, {})]);
    expect(slow.pass).toBe(false);
    expect(slow.reason).toContain('7.0 s');
  });
});
