/**
 * Run to run: the same figures from several results JSONs side by side, with their spread. This
 * machine is shared and a run can be several times slower than the last, so a figure is worth as
 * much as its agreement with the next run: the ratios within one run (a profile against the fastest
 * peer, the targets' ratios) are what should hold still. `npm run bench -- --compare a.json,b.json`.
 */
import { defined } from '../src/common/defined.js';
import { median } from './measurements/throughput.js';
import type { BenchResult } from './results.js';
import { evaluateTargets, fmt, int } from './targets.js';

export interface SpreadRow {
  figure: string;
  values: number[];
}

/** (max − min) ÷ median of the finite values: 0 when they all agree; NaN with fewer than two. */
export function spreadOf(values: number[]): number {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return NaN;
  const mid = median(v);
  return mid === 0 ? NaN : (Math.max(...v) - Math.min(...v)) / Math.abs(mid);
}

/** Each topology's throughput as a share of the fastest in its own run, then the targets' numbers. */
export function spreadRows(runs: BenchResult[]): SpreadRow[] {
  const names = [...new Set(runs.flatMap((r) => r.topologies.map((t) => t.name)))];
  const share = (r: BenchResult, name: string) => {
    const fastest = Math.max(...r.topologies.map((t) => t.throughput.rps));
    const t = r.topologies.find((x) => x.name === name);
    return t ? t.throughput.rps / fastest : NaN;
  };
  const targets = runs.map(evaluateTargets);
  const ids = [
    ...new Set(targets.flatMap((ts) => ts.filter((t) => t.value !== undefined).map((t) => t.id))),
  ];
  return [
    ...names.map((name) => ({
      figure: `${name}: req/s ÷ the run's fastest`,
      values: runs.map((r) => share(r, name)),
    })),
    ...ids.map((id) => {
      const { title } = defined(
        targets.flat().find((t) => t.id === id),
        `target ${id}`,
      );
      return {
        figure: `${id}: ${title}`,
        values: targets.map((ts) => ts.find((t) => t.id === id)?.value ?? NaN),
      };
    }),
  ];
}

/** The markdown table: a column per run (its start and length), the spread last. */
export function renderSpread(runs: BenchResult[]): string {
  const head = runs.map(
    (r) => `${r.startedAt.slice(0, 16).replace('T', ' ')} (${fmt(r.seconds / 60, 1)} min)`,
  );
  const cell = (v: number) => (Number.isFinite(v) ? fmt(v, 3) : v === Infinity ? '∞' : '–');
  const rows = spreadRows(runs).map((row) => {
    const spread = spreadOf(row.values);
    return `| ${row.figure} | ${row.values.map(cell).join(' | ')} | ${Number.isFinite(spread) ? `${int(spread * 100)} %` : '–'} |`;
  });
  return [
    `| figure | ${head.join(' | ')} | spread (max − min) ÷ median |`,
    `|---|${head.map(() => '---|').join('')}---|`,
    ...rows,
  ].join('\n');
}
