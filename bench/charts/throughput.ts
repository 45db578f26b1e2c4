/**
 * bench/chart.svg: whoami throughput and p99 latency per profile and peer, as two panels of
 * horizontal bars.
 */
import type { BenchResult, TopologyResult } from '../results.js';
import { int } from '../targets.js';
import { escape, svgDocument } from './svg.js';

const WIDTH = 760;
const LABEL = 150; // left column with the names
const VALUE = 90; // right margin for the figures
const ROW = 26;
const BAR = 16;
const HEAD = 34;

const COLORS = { profile: '#2f6fb0', peer: '#9aa3ad' };

function panel(
  title: string,
  rows: TopologyResult[],
  value: (t: TopologyResult) => number,
  label: (v: number) => string,
  top: number,
): string {
  const max = Math.max(...rows.map(value).filter(Number.isFinite), 1e-9);
  const span = WIDTH - LABEL - VALUE;
  const parts = [
    `<text x="12" y="${top + 20}" class="title">${escape(title)}</text>`,
    `<line x1="${LABEL}" y1="${top + HEAD - 6}" x2="${LABEL}" y2="${top + HEAD + rows.length * ROW}" class="axis"/>`,
  ];
  rows.forEach((t, i) => {
    const v = value(t);
    const y = top + HEAD + i * ROW;
    const w = Number.isFinite(v) ? Math.max(1, (v / max) * span) : 0;
    parts.push(
      `<text x="${LABEL - 8}" y="${y + BAR - 3}" class="name">${escape(t.name)}</text>`,
      `<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLORS[t.kind]}"/>`,
      `<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + BAR - 3}" class="value">${escape(label(v))}</text>`,
    );
  });
  return parts.join('\n  ');
}

export function renderChart(result: BenchResult): string {
  const rows = result.topologies;
  const panelHeight = HEAD + rows.length * ROW + 16;
  const height = 2 * panelHeight + 40;
  const note = `${result.machine.cpus} cores, ${result.settings.clients} clients, median of ${result.settings.rounds} × ${result.settings.durationSeconds} s; blue: our profiles, grey: peers`;
  return svgDocument(WIDTH, height, [
    panel(
      'Authenticated GET /api/whoami through nginx: requests per second (higher is better)',
      rows,
      (t) => t.throughput.rps,
      int,
      0,
    ),
    panel(
      'p99 latency in ms (lower is better)',
      rows,
      (t) => t.throughput.p99,
      (v) => `${v.toFixed(1)} ms`,
      panelHeight,
    ),
    `<text x="12" y="${height - 14}" class="note">${escape(note)}</text>`,
  ]);
}
