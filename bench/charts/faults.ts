/**
 * bench/faults.svg: the fault matrix as a heatmap, a row per profile and a column per fault.
 * A cell's colour is the worst that happened to the clients: sessions lost (red), clients logged
 * out for a while (orange), requests failed (yellow), nothing (green); its strength is the share
 * of clients or requests it hit. Grey: the fault does not apply; white: not measured in this run.
 */
import { measuredFaults } from '../faults.js';
import type { BenchResult, FaultCell } from '../results.js';
import { escape, svgDocument } from './svg.js';

const LABEL = 130;
const COL = 118;
const ROW = 40;
const HEAD = 58;

type Severity = 'lost' | 'loggedOut' | 'failed' | 'none';

const HUES: Record<Severity, [number, number, number]> = {
  lost: [214, 48, 39],
  loggedOut: [244, 146, 44],
  failed: [240, 206, 60],
  none: [92, 170, 92],
};

export function severityOf(c: FaultCell): { severity: Severity; share: number } {
  if (c.sessionsLost > 0) return { severity: 'lost', share: c.sessionsLost / c.clients };
  if (c.loggedOut > 0) return { severity: 'loggedOut', share: c.loggedOut / c.clients };
  if (c.failed > 0) return { severity: 'failed', share: c.failed / Math.max(1, c.requests) };
  return { severity: 'none', share: 1 };
}

/** The cell's two lines of text. */
export function cellText(c: FaultCell): [string, string] {
  const seconds = (c.recoveryMs / 1000).toFixed(1);
  const failures = c.failed ? `${c.failed} failed, ${seconds} s` : 'no request failed';
  if (c.sessionsLost > 0) return [`${c.sessionsLost}/${c.clients} sessions lost`, failures];
  if (c.loggedOut > 0) return [`${c.loggedOut}/${c.clients} logged out`, failures];
  if (c.failed > 0) return [`${c.failed} of ${c.requests} failed`, `recovered in ${seconds} s`];
  return ['nothing failed', ''];
}

function fill(c: FaultCell): string {
  const { severity, share } = severityOf(c);
  // At least 35 % strength, so that one lost session still shows.
  const alpha = severity === 'none' ? 0.45 : 0.35 + 0.65 * Math.min(1, share);
  const [r, g, b] = HUES[severity];
  return `rgba(${r},${g},${b},${alpha.toFixed(2)})`;
}

export function renderFaultChart(result: BenchResult): string {
  const rows = result.topologies.filter((t) => t.kind === 'profile');
  const faults = measuredFaults(result.topologies);
  const width = LABEL + faults.length * COL + 20;
  const height = HEAD + rows.length * ROW + 56;
  const body: string[] = [
    `<text x="12" y="22" class="title">Faults under the read load: what each profile's clients saw</text>`,
  ];
  faults.forEach((f, j) => {
    body.push(
      `<text x="${LABEL + j * COL + COL / 2}" y="${HEAD - 10}" class="head">${escape(f.label)}</text>`,
    );
  });
  rows.forEach((t, i) => {
    const y = HEAD + i * ROW;
    body.push(
      `<text x="${LABEL - 8}" y="${y + ROW / 2 + 4}" class="name">${escape(t.name)}</text>`,
    );
    faults.forEach((f, j) => {
      const x = LABEL + j * COL;
      const c = t.faults?.find((cell) => cell.fault === f.name);
      // A full run measures every fault that applies: a missing cell there does not apply.
      const color = c ? fill(c) : result.settings.quick ? '#fff' : '#e6e6e6';
      body.push(
        `<rect x="${x + 1}" y="${y + 1}" width="${COL - 2}" height="${ROW - 2}" fill="${color}" stroke="#ccc"/>`,
      );
      const [a, b] = c ? cellText(c) : [result.settings.quick ? 'not in this run' : 'n/a', ''];
      body.push(
        `<text x="${x + COL / 2}" y="${y + (b ? 17 : 24)}" class="cell">${escape(a)}</text>`,
      );
      if (b) body.push(`<text x="${x + COL / 2}" y="${y + 31}" class="cell">${escape(b)}</text>`);
    });
  });
  const notes = [
    'red: sessions lost · orange: clients logged out for a while · yellow: requests failed · green: nothing',
    `grey: does not apply · "s": from the fault to the last failed request · ${result.settings.clients} clients reading back to back, ${result.machine.cpus} cores`,
  ];
  notes.forEach((line, k) =>
    body.push(`<text x="12" y="${height - 30 + k * 16}" class="note">${escape(line)}</text>`),
  );
  return svgDocument(width, height, body);
}
