/**
 * Latency as users feel it: authenticated whoami at fixed rates, open loop (open-loop.ts), below
 * what the row sustains. Its capacity (the median closed-loop throughput of the whoami rounds, 300
 * clients sending back to back) is not that rate: 300 clients always waiting let every process
 * take many requests per wake-up, where requests on a schedule arrive one by one, and at 80 % of
 * the closed loop's figure some rows fell behind their schedule for good (sticky: p50 836 ms).
 * So the rate a row sustains is searched for first (sustainedRate); users are served at 50 % and
 * 80 % of it, and at one rate common to every row; at each, the tail is what the schedule measured.
 */
import { runOpenLoop, type OpenLoopRun } from '../open-loop.js';
import type { RateLatency, SustainedRate } from '../results.js';
import type { Subject } from '../subject.js';
import { median } from './throughput.js';

/** The shares of the rate it sustains each row is measured at. */
export const CAPACITY_SHARES = [0.5, 0.8] as const;

export interface LatencyOptions {
  /** The closed loop's throughput: the search's upper end. */
  capacity: number;
  /** The rate every row is measured at too: light for every row, so the search's yardstick. */
  commonRate: number;
  /** Search probes, each halving the range between the fastest kept and the slowest lost rate. */
  probes: number;
  probeMs: number;
  warmupMs: number;
  durationMs: number;
}

/**
 * A probe kept up with its schedule when the requests due in its last quarter waited (median) no
 * more than twice as long as those of its first quarter plus KEPT_UP_MARGIN_MS (past what a row
 * sustains, the queue grows for as long as the probe lasts: 5 % over for 3 s adds 150 ms; the
 * slack is for this machine's noise of a few ms), and no more than KNEE times as long
 * as at the light common rate: the knee, where waiting starts to dominate (a single queue's
 * median wait is 1 ÷ (1 − load) of its idle one, so five times is about 80 % busy). That bound
 * also catches the open loop turned closed, once waits pass one client's interval (each client
 * waits, then sends at once: a queue that stands still, but long). Medians, as a stall of S ms
 * makes only S × rate requests late.
 */
export const KEPT_UP_MARGIN_MS = 5;
export const KNEE = 5;

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Whether a probe's answers (due time in ms from the window's start, wait in ms) show a row
 * that kept up: every request answered, none failed, and no queue that grew or stood long.
 */
export function keptUp(
  waits: readonly { dueMs: number; waitMs: number }[],
  o: { windowMs: number; lost: number; lightP50: number },
): { kept: boolean; firstP50: number; lastP50: number } {
  if (!(o.lightP50 > 0)) return { kept: false, firstP50: NaN, lastP50: NaN };
  const quarter = (from: number) =>
    median(
      waits
        .filter((w) => w.dueMs >= from * o.windowMs && w.dueMs < (from + 0.25) * o.windowMs)
        .map((w) => w.waitMs),
    );
  const firstP50 = quarter(0);
  const lastP50 = quarter(0.75);
  const kept =
    o.lost === 0 &&
    Number.isFinite(firstP50) &&
    Number.isFinite(lastP50) &&
    lastP50 <= 2 * firstP50 + KEPT_UP_MARGIN_MS &&
    Math.max(firstP50, lastP50) <= KNEE * o.lightP50;
  return { kept, firstP50, lastP50 };
}

/** The next rate to probe between the fastest kept and the slowest lost; none when adjacent. */
export function nextProbe(kept: number, lost: number): number | undefined {
  return lost - kept > 1 ? Math.floor((kept + lost) / 2) : undefined;
}

/** A figure JSON can hold: NaN (a quarter without answers) becomes null. */
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * The highest fixed rate the row keeps up with, open loop: a bisection between the light rate
 * (kept: it was just measured) and the closed loop's capacity. A probe the generator fell behind
 * in says nothing of the row: it counts as lost, so the search stays below what the generator
 * can offer.
 */
async function sustainedRate(
  s: Subject,
  o: LatencyOptions,
  lightP50: number,
  say: (line: string) => void,
): Promise<SustainedRate> {
  let kept = o.commonRate;
  let lost = Math.round(o.capacity);
  const probes: SustainedRate['probes'] = [];
  for (let i = 0, rate = nextProbe(kept, lost); i < o.probes && rate; i++) {
    const waits: { dueMs: number; waitMs: number }[] = [];
    const run = await runOpenLoop(s.clients, {
      path: '/api/whoami',
      ratePerSecond: rate,
      warmupMs: 500,
      durationMs: o.probeMs,
      drainMs: 5000,
      onResult: ({ dueMs, intendedMs }) => void waits.push({ dueMs, waitMs: intendedMs }),
    });
    const verdict = keptUp(waits, {
      windowMs: o.probeMs,
      lost: run.failed + run.unanswered,
      lightP50,
    });
    const ok = verdict.kept && !run.behind;
    probes.push({
      ratePerSecond: rate,
      kept: ok,
      firstP50: finite(verdict.firstP50),
      lastP50: finite(verdict.lastP50),
      behind: run.behind,
    });
    say(
      `  ${count(rate)} req/s: ${ok ? 'kept up' : 'fell behind'} (p50 ${verdict.firstP50.toFixed(1)} → ` +
        `${verdict.lastP50.toFixed(1)} ms${run.behind ? ', the generator fell behind' : ''})`,
    );
    if (ok) kept = rate;
    else lost = rate;
    rate = nextProbe(kept, lost);
  }
  return { ratePerSecond: kept, probes };
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
 * One open-loop run at a rate. A run in which the generator fell behind its own schedule
 * measured the generator: it runs once more, and a second such run is kept but marked
 * (`behind`), so the report says it instead of showing its figures as the row's.
 */
async function atRate(
  s: Subject,
  o: LatencyOptions,
  label: string,
  rate: number,
  say: (line: string) => void,
): Promise<RateLatency> {
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
    `${label === 'common' ? 'common rate' : `${label} load`}, ${count(rate)} req/s: ` +
      `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, p99.9 ${r.p999.toFixed(1)} ms` +
      (r.failed ? `, ${r.failed} failed` : '') +
      (r.behind
        ? ` (discarded: the generator ran ${r.generatorLagP99.toFixed(0)} ms behind its schedule)`
        : ''),
  );
  return r;
}

/**
 * The common rate first (light for every row: the search's yardstick), then the highest rate
 * the row keeps up with, then 50 % and 80 % of that. Without a yardstick (the common rate was
 * not light: it failed, the generator fell behind, or it is not below capacity) nothing is
 * searched, and the shares are of capacity, as the report then says.
 */
export async function measureLatency(
  s: Subject,
  o: LatencyOptions,
  say: (line: string) => void,
): Promise<{ latency: RateLatency[]; sustained?: SustainedRate }> {
  const light = await atRate(s, o, 'common', o.commonRate, say);
  const yardstick =
    !light.behind && light.answered > 0 && light.failed + light.unanswered === 0 && light.p50 > 0;
  let sustained: SustainedRate | undefined;
  if (yardstick && o.commonRate < o.capacity) {
    say(`the highest rate it keeps up with, up to ${count(o.capacity)} req/s …`);
    sustained = await sustainedRate(s, o, light.p50, say);
    say(`sustains ${count(sustained.ratePerSecond)} req/s on a schedule`);
  } else
    say('no search for the rate it sustains (the common rate was not light): shares of capacity');
  const basis = sustained?.ratePerSecond ?? o.capacity;
  const shares: RateLatency[] = [];
  for (const share of CAPACITY_SHARES) {
    const rate = Math.max(1, Math.round(basis * share));
    shares.push(await atRate(s, o, `${share * 100} %`, rate, say));
  }
  return { latency: [...shares, light], ...(sustained ? { sustained } : {}) };
}
