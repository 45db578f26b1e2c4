/**
 * Latency as users feel it: authenticated whoami at fixed rates, open loop (open-loop.ts), below
 * the row's capacity. Capacity is the median closed-loop throughput of the whoami rounds (300
 * clients sending back to back): what the row serves flat out. Users are served at 50 % and 80 %
 * of it, and at one rate common to every row; at each, the tail is what the schedule measured.
 */
import { runOpenLoop, type OpenLoopRun } from '../open-loop.js';
import type { RateLatency } from '../results.js';
import type { Subject } from '../subject.js';

/** The shares of its own capacity each row is measured at. */
export const CAPACITY_SHARES = [0.5, 0.8] as const;

export interface LatencyOptions {
  /** Requests per second the row served flat out (its capacity). */
  capacity: number;
  /** The rate every row is measured at too. */
  commonRate: number;
  warmupMs: number;
  durationMs: number;
}

function summary(label: string, run: OpenLoopRun, attempts: number): RateLatency {
  const l = run.latency.summary();
  return {
    label,
    ratePerSecond: run.ratePerSecond,
    scheduled: run.scheduled,
    answered: run.answered,
    unanswered: run.unanswered,
    failed: run.failed,
    p50: l.p50,
    p99: l.p99,
    p999: l.p999 ?? l.p99,
    max: l.max,
    serviceP99: run.service.percentile(99),
    generatorLagP99: run.lag.percentile(99),
    behind: run.behind,
    attempts,
  };
}

/**
 * One open-loop run per rate. A run in which the generator fell behind its own schedule measured
 * the generator: it runs once more, and a second such run is kept but marked (`behind`), so the
 * report says it instead of showing its figures as the row's.
 */
export async function measureLatency(
  s: Subject,
  o: LatencyOptions,
  say: (line: string) => void,
): Promise<RateLatency[]> {
  const rates = [
    ...CAPACITY_SHARES.map((share) => ({
      label: `${share * 100} %`,
      rate: Math.max(1, Math.round(o.capacity * share)),
    })),
    { label: 'common', rate: o.commonRate },
  ];
  const out: RateLatency[] = [];
  for (const { label, rate } of rates) {
    let attempts = 0;
    let run: OpenLoopRun;
    do {
      attempts++;
      run = await runOpenLoop(s.clients, {
        path: '/api/whoami',
        ratePerSecond: rate,
        warmupMs: o.warmupMs,
        durationMs: o.durationMs,
      });
    } while (run.behind && attempts < 2);
    const r = summary(label, run, attempts);
    say(
      `${label === 'common' ? 'common rate' : `${label} of capacity`}, ${rate} req/s: ` +
        `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, p99.9 ${r.p999.toFixed(1)} ms` +
        (r.failed ? `, ${r.failed} failed` : '') +
        (r.behind
          ? ` (discarded: the generator ran ${r.generatorLagP99.toFixed(0)} ms behind its schedule)`
          : ''),
    );
    out.push(r);
  }
  return out;
}
