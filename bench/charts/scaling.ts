/**
 * bench/scaling.svg: cost per operation against the number of replicas, a panel per metric and a
 * line per profile (scaling runs: bench/measurements/replica-scaling.ts).
 */
import { defined } from '../../src/common/defined.js';
import type { BenchResult, ScalingPoint } from '../results.js';
import { escape, PALETTE, svgDocument } from './svg.js';

export interface ScalingMetric {
  title: string;
  unit: string;
  value: (p: ScalingPoint) => number | undefined;
}

export const scalingMetrics: ScalingMetric[] = [
  { title: 'Replica CPU per read', unit: 'µs', value: (p) => p.replicaCpuMicrosPerRead },
  { title: 'Replica CPU per write', unit: 'ms', value: (p) => p.replicaCpuMsPerWrite },
  {
    title: 'Heap per replica per 10k sessions',
    unit: 'MiB',
    value: (p) => p.heapPer10kPerReplica / 2 ** 20,
  },
  { title: 'Peer messages per write', unit: '', value: (p) => p.peerMessagesPerWrite },
  { title: 'Peer-channel CPU per write', unit: 'µs', value: (p) => p.peerWorkMicrosPerWrite },
];

const PANEL_W = 380;
const PANEL_H = 230;
const PAD = { left: 52, right: 14, top: 34, bottom: 30 };

function panel(
  metric: ScalingMetric,
  series: Array<{ name: string; color: string; points: ScalingPoint[] }>,
  x0: number,
  y0: number,
): string[] {
  const lines = series
    .map((s) => ({
      ...s,
      xy: s.points
        .map((p) => [p.replicas, metric.value(p)] as const)
        .filter((xy): xy is readonly [number, number] => Number.isFinite(xy[1])),
    }))
    .filter((s) => s.xy.length > 0);
  const out = [
    `<text x="${x0 + 8}" y="${y0 + 20}" class="title">${escape(metric.title)}${metric.unit ? ` (${escape(metric.unit)})` : ''}</text>`,
  ];
  if (!lines.length) {
    out.push(`<text x="${x0 + 8}" y="${y0 + 50}" class="note">not measured in this run</text>`);
    return out;
  }
  const xs = [...new Set(lines.flatMap((l) => l.xy.map(([x]) => x)))].sort((a, b) => a - b);
  const maxY = Math.max(...lines.flatMap((l) => l.xy.map(([, y]) => y)), 1e-9) * 1.1;
  const [minX, maxX] = [Math.min(...xs), Math.max(...xs)];
  const plotW = PANEL_W - PAD.left - PAD.right;
  const plotH = PANEL_H - PAD.top - PAD.bottom;
  const px = (x: number) =>
    x0 + PAD.left + (maxX === minX ? plotW / 2 : ((x - minX) / (maxX - minX)) * plotW);
  const py = (y: number) => y0 + PAD.top + plotH - (y / maxY) * plotH;
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    out.push(
      `<line x1="${x0 + PAD.left}" y1="${py(v).toFixed(1)}" x2="${x0 + PAD.left + plotW}" y2="${py(v).toFixed(1)}" class="grid"/>`,
      `<text x="${x0 + PAD.left - 6}" y="${(py(v) + 4).toFixed(1)}" class="tick" text-anchor="end" style="text-anchor:end">${v >= 10 ? Math.round(v) : v.toFixed(2)}</text>`,
    );
  }
  for (const x of xs) {
    out.push(`<text x="${px(x).toFixed(1)}" y="${y0 + PANEL_H - 10}" class="tick">${x}</text>`);
  }
  for (const l of lines) {
    const d = l.xy.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    out.push(`<path d="${d.join(' ')}" fill="none" stroke="${l.color}" stroke-width="2"/>`);
    for (const [x, y] of l.xy) {
      out.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${l.color}"/>`,
      );
    }
  }
  return out;
}

/**
 * One curve per session backend: profiles that differ only in routing share their backend's
 * (the run measures it once), named together.
 */
export function scalingCurves(
  result: BenchResult,
): Array<{ name: string; points: ScalingPoint[] }> {
  const byBackend = new Map<string, { names: string[]; points: ScalingPoint[] }>();
  for (const t of result.topologies) {
    if (!t.replicaScaling?.length) continue;
    const curve = byBackend.get(t.store);
    if (curve) curve.names.push(t.name);
    else byBackend.set(t.store, { names: [t.name], points: t.replicaScaling });
  }
  return [...byBackend.values()].map((c) => ({ name: c.names.join(', '), points: c.points }));
}

export function renderScalingChart(result: BenchResult): string {
  const series = scalingCurves(result).map((c, i) => ({
    ...c,
    color: defined(PALETTE[i % PALETTE.length], 'a palette colour'),
  }));
  const cols = 2;
  const rows = Math.ceil(scalingMetrics.length / cols);
  const width = cols * PANEL_W + 20;
  const legendTop = rows * PANEL_H + 40;
  const height = legendTop + Math.ceil(series.length / 4) * 20 + 36;
  const body = [
    `<text x="12" y="22" class="title">Cost per operation against the number of replicas (x axis)</text>`,
  ];
  scalingMetrics.forEach((m, k) => {
    body.push(...panel(m, series, 10 + (k % cols) * PANEL_W, 30 + Math.floor(k / cols) * PANEL_H));
  });
  series.forEach((s, i) => {
    const x = 20 + (i % 4) * 190;
    const y = legendTop + Math.floor(i / 4) * 20;
    body.push(
      `<rect x="${x}" y="${y - 9}" width="14" height="4" fill="${s.color}"/>`,
      `<text x="${x + 20}" y="${y}" class="value">${escape(s.name)}</text>`,
    );
  });
  body.push(
    `<text x="12" y="${height - 12}" class="note">${escape(`A cluster per size; on ${result.machine.cpus} cores throughput cannot grow with replicas, so cost per operation is compared`)}</text>`,
  );
  return svgDocument(width, height, body);
}
