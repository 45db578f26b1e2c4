/**
 * The comparison that follows from the figures: the fault matrix (heatmap and table), scaling
 * with replicas (chart and the sources' claims), the sources' table re-derived and the advice.
 * Each test changes figures and checks that the words and pictures follow them.
 */
import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { cellText, renderFaultChart, severityOf } from './charts/faults.js';
import { renderScalingChart, scalingCurves } from './charts/scaling.js';
import { chooseFaults, faults, type FaultName } from './faults.js';
import { rateProfiles, recommendations } from './ratings.js';
import { aboveMemory, renderReport, sourceClaims } from './report.js';
import { benchResult, topology } from './result-fixture.js';
import type { FaultCell, ScalingPoint } from './results.js';
import { evaluateTargets } from './targets.js';

const cell = (fault: FaultName, over: Partial<FaultCell> = {}): FaultCell => ({
  fault,
  clients: 40,
  requests: 1000,
  failed: 0,
  loggedOut: 0,
  sessionsLost: 0,
  faultMs: 100,
  recoveryMs: 0,
  ...over,
});

const point = (replicas: number, cpuPerWrite: number, heap = 10 * 2 ** 20): ScalingPoint => ({
  replicas,
  reads: 1000,
  writes: 100,
  replicaCpuMicrosPerRead: 300,
  replicaCpuMsPerWrite: cpuPerWrite,
  heapPer10kPerReplica: heap,
});

describe('chooseFaults', () => {
  const byName = (...names: FaultName[]) => faults.filter((f) => names.includes(f.name));

  it('takes every applicable fault in a full run', () => {
    const all = byName('replica-kill', 'store-restart');
    expect(chooseFaults(all, false, new Set())).toEqual(all);
  });

  it('in a quick run takes at most one per profile, a kind not done yet, never a full-run-only one', () => {
    const done = new Set<FaultName>();
    const picks = [
      chooseFaults(byName('replica-kill', 'replica-term'), true, done),
      chooseFaults(byName('replica-kill', 'replica-term'), true, done),
      chooseFaults(byName('replica-kill', 'replica-term'), true, done),
      chooseFaults(byName('rolling-restart', 'store-restart'), true, done),
    ].map((list) => list.map((f) => f.name));
    expect(picks).toEqual([['replica-kill'], ['replica-term'], [], ['store-restart']]);
    expect(chooseFaults(byName('rolling-restart'), true, new Set())).toEqual([]);
  });
});

describe('the fault matrix', () => {
  it('ranks a cell by the worst that happened: lost, logged out, failed, nothing', () => {
    expect(
      severityOf(cell('replica-kill', { sessionsLost: 10, loggedOut: 10, failed: 5 })),
    ).toEqual({ severity: 'lost', share: 0.25 });
    expect(severityOf(cell('replica-kill', { loggedOut: 4, failed: 5 })).severity).toBe(
      'loggedOut',
    );
    expect(severityOf(cell('store-failover', { failed: 50 }))).toEqual({
      severity: 'failed',
      share: 0.05,
    });
    expect(severityOf(cell('partition')).severity).toBe('none');
  });

  it('writes what the clients saw, and when the failures stopped', () => {
    expect(cellText(cell('replica-kill', { sessionsLost: 13, loggedOut: 13 }))).toEqual([
      '13/40 sessions lost',
      'no request failed',
    ]);
    expect(cellText(cell('store-failover', { failed: 52, recoveryMs: 3900 }))).toEqual([
      '52 of 1000 failed',
      'recovered in 3.9 s',
    ]);
    expect(cellText(cell('partition'))).toEqual(['nothing failed', '']);
  });

  it('draws a cell per profile and measured fault; red for a loss, grey where a fault does not apply', () => {
    const svg = renderFaultChart(
      benchResult([
        topology('naive', { faults: [cell('replica-kill', { sessionsLost: 40 })] }),
        topology('redis', { faults: [cell('replica-kill'), cell('store-restart')] }),
      ]),
    );
    const rects = [
      ...svg.matchAll(/<rect x="\d+" y="\d+" width="\d+" height="\d+" fill="([^"]+)"/g),
    ];
    // A column per fault some row had: replica SIGKILL and store restart.
    expect(rects).toHaveLength(2 * 2);
    expect(svg).not.toContain('network partition');
    expect(rects[0]?.[1]).toBe('rgba(214,48,39,1.00)'); // naive, replica SIGKILL: every session lost
    expect(rects[1]?.[1]).toBe('#e6e6e6'); // naive, store restart: not measured in a full run = n/a
    expect(svg).toContain('40/40 sessions lost');
  });

  it('has the matrix in the report, a column per measured fault', () => {
    const result = benchResult([
      topology('naive', { faults: [cell('replica-kill', { sessionsLost: 13, loggedOut: 13 })] }),
      topology('redis', { faults: [cell('replica-kill'), cell('store-restart')] }),
    ]);
    const report = renderReport(result, evaluateTargets(result), {
      throughput: 'chart.svg',
      faults: 'faults.svg',
      scaling: 'scaling.svg',
    });
    expect(report).toContain('|  | replica SIGKILL | store restart |');
    expect(report).toContain('| naive | 13/40 sessions lost; no request failed | n/a |');
    expect(report).toContain('](faults.svg)');
  });
});

describe('scaling with replicas', () => {
  const result = benchResult([
    topology('replicated', { replicaScaling: [point(2, 4), point(3, 6), point(6, 12)] }),
    topology('redis', { replicaScaling: [point(2, 2), point(6, 2.2)] }),
  ]);

  it('draws a line per profile in each panel, the higher cost higher up', () => {
    const svg = renderScalingChart(result);
    const paths = [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="([^"]+)"/g)];
    // Five panels; the two peer-channel panels have no figures here ("not measured").
    expect(paths).toHaveLength(2 * 3);
    expect(svg).toContain('not measured in this run');
    // CPU per write (second panel): replicated ends higher (smaller y) than redis.
    const lastY = (path: RegExpMatchArray | undefined) =>
      Number(defined(path?.[1], 'a line').split(',').at(-1));
    expect(lastY(paths[2])).toBeLessThan(lastY(paths[3]));
  });

  it('draws one curve per session backend, named after the profiles that share it', () => {
    const shared = benchResult([
      topology('naive', { replicaScaling: [point(2, 2), point(3, 2)] }),
      topology('sticky', { replicaScaling: [point(2, 2), point(3, 2)] }),
      topology('replicated', { replicaScaling: [point(2, 4), point(3, 6)] }),
    ]);
    expect(scalingCurves(shared).map((c) => c.name)).toEqual(['naive, sticky', 'replicated']);
    expect(renderScalingChart(shared)).toContain('>naive, sticky</text>');
  });

  it('shows what a backend adds per write over the in-memory one at the same size', () => {
    const [two, six] = [point(2, 2.5), point(6, 5)];
    const withBaseline = benchResult([
      topology('sticky', { replicaScaling: [point(2, 2), point(6, 3)] }),
      topology('replicated', { replicaScaling: [two, six] }),
    ]);
    expect(aboveMemory(withBaseline, two)).toBeCloseTo(0.5);
    expect(aboveMemory(withBaseline, six)).toBeCloseTo(2);
    expect(aboveMemory(result, two)).toBeUndefined(); // no memory-backend curve in that run
  });

  it('says for each claim of the sources whether the figures agree', () => {
    const claims = sourceClaims(result);
    expect(claims[0]).toContain('`replicated`: CPU per write 4.00 → 12.00 ms (×3.00)');
    expect(claims[0]).toContain('**the figures agree**');
    expect(claims[1]).toContain('no row with a primary and a backup per session in this run');
    expect(claims[2]).toContain('**the figures agree**');
  });

  it('judges the replication claims on CPU per write at every size, and shows the peer-channel CPU', () => {
    const work = (p: ScalingPoint, micros: number): ScalingPoint => ({
      ...p,
      peerWorkMicrosPerWrite: micros,
    });
    const measured = benchResult([
      topology('replicated', {
        replicaScaling: [work(point(2, 2), 100), work(point(4, 2.8), 300), work(point(6, 4), 520)],
      }),
      topology('backup', {
        replicaScaling: [
          work(point(2, 2), 100),
          work(point(4, 2.3), 105),
          work(point(6, 2.1), 110),
        ],
      }),
    ]);
    const [allToAll, backup] = sourceClaims(measured);
    expect(allToAll).toContain('CPU per write 2.00 → 4.00 ms (×2.00)');
    expect(allToAll).toContain('peer-channel CPU per write 100 → 520 µs (×5.20)');
    expect(allToAll).toContain('**the figures agree**');
    expect(backup).toContain('CPU per write 2.00 → 2.10 ms (×1.05)');
    expect(backup).toContain('peer-channel CPU per write 100 → 110 µs (×1.10)');
    expect(backup).toContain('**the figures agree**');
    // Flat at the ends is not flat: a size in between that costs 1.6 × the smallest is growth.
    const bulge = benchResult([
      topology('backup', {
        replicaScaling: [point(2, 2), point(4, 3.2), point(6, 2.1)],
      }),
    ]);
    expect(sourceClaims(bulge)[1]).toContain('**the figures do not show it**');
  });
});

describe('the sources’ table, re-derived', () => {
  const memory = (heapPer10k: number) => ({
    sessionsCreated: 1000,
    replicas: { heapGrowthPer10k: heapPer10k, rssGrowthPer10k: 0, heapBefore: {}, heapAfter: {} },
  });
  const result = benchResult([
    topology(
      'naive',
      {
        faults: [
          cell('replica-kill', { sessionsLost: 13 }),
          cell('rolling-restart', { sessionsLost: 40 }),
        ],
        memory: memory(10_000_000),
      },
      { rps: 1000 },
    ),
    topology(
      'redis',
      {
        faults: [cell('replica-kill'), cell('rolling-restart'), cell('store-restart')],
        replicaScaling: [point(2, 2), point(6, 2.2)],
        memory: memory(100_000_000),
      },
      { rps: 700 },
    ),
  ]);

  it('turns each figure into a level by the printed rule', () => {
    const ratings = rateProfiles(result);
    const naive = defined(ratings[0], "naive's ratings");
    const redis = defined(ratings[1], "redis's ratings");
    expect(naive.failureHandling.level).toBe('low');
    expect(redis.failureHandling.level).toBe('high');
    expect(naive.performance.level).toBe('high');
    expect(redis.performance.level).toBe('medium');
    expect(redis.scalability).toEqual({
      level: 'high',
      basis: 'CPU per write ×1.10 from 2 to 6 replicas',
    });
    expect(naive.scalability.level).toBeUndefined();
    expect(naive.resourceUse.level).toBe('low'); // 1,000 B per session
    expect(redis.resourceUse.level).toBe('high'); // 10,000 B
    expect(naive.complexity.level).toBe('low');
  });

  it('answers the team’s questions with the profiles whose figures qualify', () => {
    const advice = recommendations(result).join('\n');
    expect(advice).toContain('nobody may be logged out:** `redis`.');
    expect(advice).toContain('rolling restart) may not log anyone out:** `redis`.');
    expect(advice).toContain('Fastest authenticated reads in this run:** `naive`, `redis`');
  });
});
