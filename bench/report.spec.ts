import { describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { renderChart } from './charts/throughput.js';
import { coreUse, renderReport, skew, table } from './report.js';
import { benchResult, topology } from './result-fixture.js';
import { evaluateTargets } from './targets.js';

const CHARTS = { throughput: 'chart.svg', faults: 'faults.svg', scaling: 'scaling.svg' };

describe('report formatting', () => {
  it('writes Markdown tables and keeps a "|" inside a cell from ending it', () => {
    expect(table(['a', 'b'], [['1', 'x | y']])).toBe('| a | b |\n|---|---|\n| 1 | x \\| y |');
  });

  it('writes the store’s cores under its service name, and a dash without a store', () => {
    const cpu = { nginx: 0.1, replicas: 1, load: 0.3, postgres: 0, machine: 1.5 };

    expect(coreUse({ ...cpu, stores: { redis: 0.02 } })).toBe(
      '0.10 / 1.00 / redis 0.02 / 0.30 / 0.08',
    );
    expect(coreUse(cpu)).toBe('0.10 / 1.00 / – / 0.30 / 0.10');
  });

  it('writes an idle replica as an infinite skew, not as a number', () => {
    expect(skew(null)).toBe('∞ (a replica served nothing)');
    expect(skew(1.234)).toBe('1.23');
    expect(skew(undefined)).toBe('–');
  });
});

describe('renderReport', () => {
  const result = benchResult([
    topology('sticky', {}, { rps: 2000 }),
    topology(
      'redis',
      {},
      { rps: 1000, storeCommandsPerRead: { label: 'Redis', total: 1, byName: { get: 1 } } },
    ),
  ]);
  const report = renderReport(result, evaluateTargets(result), CHARTS);

  it('has one comparison table with the sources’ five columns, a row per topology', () => {
    expect(report).toContain(
      '|  | complexity | scalability | failure handling | performance | resource use |',
    );
    expect(report).toMatch(/^\| \*\*sticky\*\* \|.*2,000 req\/s/m);
    expect(report).toMatch(/^\| \*\*redis\*\* \|.*1\.00 Redis commands per read/m);
  });

  it('lists every target with its verdict, and says why a FAIL failed', () => {
    for (const id of ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7'])
      expect(report).toContain(`| ${id} |`);
    expect(report).toContain('| 0.500 (1,000 ÷ 2,000 req/s, sticky) | **FAIL** |');
    expect(report).toContain('- **T3 FAIL**: Replica CPU per read');
    expect(report).toContain('- **T4 not measured**');
  });

  it('names the machine and versions and links the chart', () => {
    expect(report).toContain('2 × Test CPU, 24 GiB');
    expect(report).toContain('Node v20.20.2, nginx 1.22.1, Redis 7.0.15, PostgreSQL 15.18');
    expect(report).toContain('](chart.svg)');
  });
});

describe('renderReport: figures of the store, labelled from the data', () => {
  const memory = {
    sessionsCreated: 1000,
    replicas: {
      heapGrowthPer10k: 14_000_000,
      rssGrowthPer10k: 20_000_000,
      heapBefore: { 'app-1': 30 * 2 ** 20 },
      heapAfter: { 'app-1': 31 * 2 ** 20 },
    },
  };
  const store = {
    label: 'Redis',
    usedMemoryPerSession: 263,
    sample: { count: 200, bytes: 200, valueBytes: 121, example: '{}' },
  };
  const growth = {
    store: 'Redis',
    small: 1000,
    large: 100_000,
    p50Small: [30],
    p50Large: [31],
    ratio: 1.03,
  };
  const result = benchResult([
    topology('naive', { memory }),
    topology(
      'redis',
      { memory: { ...memory, store, postgresIndexBytesPerSession: 229 }, growth },
      { storeCommandsPerRead: { label: 'Redis', total: 1, byName: { get: 1 } } },
    ),
  ]);
  const report = renderReport(result, evaluateTargets(result), CHARTS);

  it('names the store’s services among the processes', () => {
    expect(report).toMatch(/^\| \*\*redis\*\* \| 6 processes \(\+ redis\);/m);
    expect(report).toMatch(/^\| \*\*naive\*\* \| 5 processes;/m);
  });

  it('gives the store’s commands per read by name, and says where there is no store to observe', () => {
    expect(report).toContain('| redis | Redis: 1.000 (get 1.000) |');
    expect(report).toContain('| naive | – (no store to observe) |');
  });

  it('has the replicas’ heap for every profile, and the store and Postgres where they grew', () => {
    expect(report).toContain(
      '| naive | replicas: 13.4 MiB heap per 10k sessions, 1,400 B per session',
    );
    expect(report).toContain('| redis | replicas: 13.4 MiB heap per 10k sessions');
    expect(report).toContain(
      '| redis | 263 B Redis per session (used-memory growth over 1,000 logins) | 200 B each (121 B value; sample of 200 stored sessions) |',
    );
    expect(report).toContain('| redis | Postgres: 229 B of disk per session |');
    expect(report).not.toContain('| naive | Postgres:');
  });

  it('has a cost-growth row per size for each topology that measured it', () => {
    expect(report).toContain('| redis | 1,000 in Redis | 30.00 | 30.0 ms |');
    expect(report).toContain('| redis | 100,000 in Redis | 31.00 | 31.0 ms |');
  });
});

describe('renderChart', () => {
  it('draws a throughput bar and a p99 bar per topology, longest for the largest value', () => {
    const svg = renderChart(
      benchResult([
        topology('redis', {}, { rps: 1000, p99: 50 }),
        topology('bare', {}, { rps: 4000, p99: 10 }),
      ]),
    );
    const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) =>
      Number(m[1]),
    );

    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(widths).toHaveLength(4);
    // throughput: bare 4× redis
    expect(widths[1]).toBeGreaterThan(defined(widths[0], "redis's throughput bar") * 3.9);
    // p99: redis 5× bare
    expect(widths[2]).toBeGreaterThan(defined(widths[3], "bare's p99 bar") * 4.9);
    expect(svg).toContain('4,000');
  });
});
