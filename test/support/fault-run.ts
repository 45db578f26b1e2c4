/**
 * A generated fault schedule run under recorded load, and the verdict once it has healed: what
 * the history specs (test/replicated.e2e-spec.ts, test/network-faults.e2e-spec.ts) share. The
 * schedule and the clients' choices come from one seed (FAULT_SEED overrides the fixed one);
 * the timing of the interleaving is the machine's, so a seed replays the schedule and the
 * choices, not the exact history.
 */
import { expect } from '@jest/globals';
import fc from 'fast-check';
import { checkHistory, type HistoryEvent, type Promises } from '../../cluster/faults/history.js';
import { eventually, sleep } from './eventually.js';
import { recordHistory, type Recorded } from './history-clients.js';
import type { HttpClient } from './http-client.js';
import { whoami } from './steps.js';

/** The seed CI runs; FAULT_SEED=<n> tries another. */
export const faultSeed = (): number => Number(process.env.FAULT_SEED ?? 20261207);

/** One step: a fault held for `holdMs`, healed, then `pauseMs` of calm. */
export interface Step<F> {
  fault: F;
  holdMs: number;
  pauseMs: number;
}

/** The first schedule `faults` generates from `seed`: 2-4 steps (or as the arbitrary says). */
export function scheduleOf<F>(
  fault: fc.Arbitrary<F>,
  seed: number,
  o: { minLength?: number; maxLength?: number; filter?: (s: Step<F>[]) => boolean } = {},
): Step<F>[] {
  const steps = fc.array(
    fc.record({
      fault,
      holdMs: fc.integer({ min: 300, max: 1500 }),
      pauseMs: fc.integer({ min: 200, max: 800 }),
    }),
    { minLength: o.minLength ?? 2, maxLength: o.maxLength ?? 4 },
  );
  const [schedule] = fc.sample(o.filter ? steps.filter(o.filter) : steps, { seed, numRuns: 1 });
  if (!schedule) throw new Error(`no schedule for seed ${seed}`);
  return schedule;
}

/** Uniform draws in [0, 1) from `seed` (fc.double draws uniformly among floats, most tiny). */
function draws(seed: number): () => number {
  const all = fc
    .sample(fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })), { seed, numRuns: 10_000 })
    .map((n) => n / 2 ** 30);
  let drawn = 0;
  return () => all[drawn++ % all.length] ?? 0;
}

export interface FaultRun extends Recorded {
  /** When each fault was in place: [from, to] in performance.now() time. */
  windows: Array<[number, number]>;
}

/**
 * Six users (two browsers each) work through `client(n)` while each step's fault is applied,
 * held and healed; `heal` runs last even when a step throws.
 */
export async function runSchedule<F>(o: {
  client: (n: number) => HttpClient;
  seed: number;
  steps: readonly Step<F>[];
  apply: (fault: F) => Promise<void>;
  heal: (fault: F | undefined) => Promise<void>;
}): Promise<FaultRun> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let registered: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    registered = resolve;
  });
  const recording = recordHistory(
    { client: o.client, users: 6, random: draws(o.seed), pauseMs: 20, registered },
    stopped,
  );
  // The users exist before the first fault (a registration that fails ends the run).
  await Promise.race([ready, recording]);
  const windows: Array<[number, number]> = [];
  try {
    for (const step of o.steps) {
      await o.apply(step.fault);
      const from = performance.now();
      await sleep(step.holdMs);
      await o.heal(step.fault);
      windows.push([from, performance.now()]);
      await sleep(step.pauseMs);
    }
  } finally {
    await o.heal(undefined);
    stop();
  }
  return { ...(await recording), windows };
}

/**
 * Once every replica, asked directly (`direct(replica, jar)`), reads each session the same way,
 * each session is read on each replica and the history judged: `promises` must hold for every
 * read from then on. Also that the run was not vacuous: logins, writes and ends were acknowledged
 * while a fault was in place.
 */
export async function expectPromisesKept(
  run: FaultRun,
  o: {
    replicas: readonly string[];
    direct: (replica: string, jar: HttpClient) => HttpClient;
    promises: Promises;
    convergeMs: number;
  },
): Promise<void> {
  const readsOf = async (jar: HttpClient) =>
    JSON.stringify(
      await Promise.all(
        o.replicas.map(async (r) => {
          const body = (await whoami(o.direct(r, jar))).body as {
            authenticated?: boolean;
            user?: { displayName?: string };
          };
          return [body.authenticated, body.user?.displayName];
        }),
      ),
    );
  const agree = async () => {
    for (const jar of run.jars.values()) {
      const [first, ...rest] = JSON.parse(await readsOf(jar)) as unknown[];
      if (rest.some((r) => JSON.stringify(r) !== JSON.stringify(first))) return false;
    }
    return true;
  };
  expect(await eventually(agree, o.convergeMs, 500)).toBe(true);

  const judgeFrom = performance.now();
  for (const [session, jar] of run.jars)
    for (const r of o.replicas) await run.read(session, o.direct(r, jar));
  const violations = checkHistory(run.history, o.promises, { judgeFrom });
  expect(violations.map((v) => `${v.kind} ${v.session}`)).toEqual([]);
  const during = (kinds: HistoryEvent['op']['kind'][]) =>
    run.history.filter(
      (e) =>
        kinds.includes(e.op.kind) &&
        e.outcome === 'ok' &&
        run.windows.some(([from, to]) => e.invokedAt >= from && e.completedAt <= to),
    ).length;
  expect(during(['login'])).toBeGreaterThan(0);
  expect(during(['write'])).toBeGreaterThan(0);
  expect(during(['logout', 'revoke'])).toBeGreaterThan(0);
}
