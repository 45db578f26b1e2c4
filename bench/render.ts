/**
 * A result as files: the report and its charts. A full run's go next to this file (the committed
 * report, rendered from bench/REPORT.json, which the run writes too); any other run's sit next to
 * its JSON in bench/results/. Pure: the same result renders the same bytes, which a unit test
 * checks against the committed files.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { renderFaultChart } from './charts/faults.js';
import { renderScalingChart } from './charts/scaling.js';
import { renderChart } from './charts/throughput.js';
import { isFullRun } from './options.js';
import { renderReport } from './report.js';
import type { BenchResult } from './results.js';
import { evaluateTargets } from './targets.js';

const BENCH_DIR = join(PROJECT_ROOT, 'bench');
export const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');
/** A run's name in bench/results/: its start time, usable in file names. */
export const stamp = (startedAt: Date | string) =>
  new Date(startedAt).toISOString().replace(/[:.]/g, '-');
/** The figures of the committed report (bench/REPORT.md): `npm run bench -- --render` this. */
export const COMMITTED_RESULT = join(BENCH_DIR, 'REPORT.json');

/** Path → contents of the report and charts for `result`. */
export function renderFiles(result: BenchResult): Map<string, string> {
  const name = stamp(result.startedAt);
  const full = isFullRun(result.settings);
  const file = (chart: string) =>
    full ? join(BENCH_DIR, `${chart}.svg`) : join(RESULTS_DIR, `${name}-${chart}.svg`);
  const charts = {
    throughput: { file: file('chart'), svg: renderChart(result) },
    faults: { file: file('faults'), svg: renderFaultChart(result) },
    scaling: { file: file('scaling'), svg: renderScalingChart(result) },
  };
  const reportFile = full ? join(BENCH_DIR, 'REPORT.md') : join(RESULTS_DIR, `${name}.md`);
  const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  const report = renderReport(result, evaluateTargets(result), {
    throughput: base(charts.throughput.file),
    faults: base(charts.faults.file),
    scaling: base(charts.scaling.file),
  });
  return new Map([
    [reportFile, report],
    ...Object.values(charts).map((c) => [c.file, c.svg] as [string, string]),
  ]);
}
