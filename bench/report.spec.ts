import { describe, expect, it } from '@jest/globals';
import { renderChart } from './chart.js';
import { renderReport, skew, table } from './report.js';
import { benchResult, topology } from './result-fixture.js';
import { evaluateTargets } from './targets.js';

describe('report formatting', () => {
  it('writes Markdown tables and keeps a "|" inside a cell from ending it', () => {
    expect(table(['a', 'b'], [['1', 'x | y']])).toBe('| a | b |\n|---|---|\n| 1 | x \\| y |');
  });

  it('writes an idle replica as an infinite skew, not as a number', () => {
    expect(skew(null)).toBe('∞ (one replica idle)');
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
  const report = renderReport(result, evaluateTargets(result), 'chart.svg');

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
    expect(widths[1]).toBeGreaterThan(widths[0]! * 3.9); // throughput: bare 4× redis
    expect(widths[2]).toBeGreaterThan(widths[3]! * 4.9); // p99: redis 5× bare
    expect(svg).toContain('4,000');
  });
});
