/**
 * The port-independent half of the hostile-input suite: runs generated cases from any number of
 * ports (see HostilePort) against one system, and after each case checks what holds for every
 * port alike: nothing stored changed if the input was refused, and no process crashed.
 */
import { expect } from '@jest/globals';
import fc from 'fast-check';

export interface Outcome {
  /** The input was refused (an HTTP 4xx, a peer message rejected, …): nothing stored may change. */
  refused: boolean;
  /** For the statistics printed at the end, e.g. "400" or "nginx 413". */
  label: string;
}

/**
 * One way into the system that hostile input can take: the HTTP endpoints today; the replication
 * peer port and the dashboard later. A port generates its own cases from what it declares itself
 * (routes and DTOs, message types, …), sends them, and checks its own rules.
 */
export interface HostilePort<C> {
  readonly name: string;
  /** Every hostile case this port can be sent. */
  readonly cases: fc.Arbitrary<C>;
  /** One line per case for the failure report (long values shortened). */
  describe(c: C): string;
  /**
   * Sends one case and checks the port's own rules (expect() throws when one is broken). A
   * dropped connection or a timeout must reject.
   */
  probe(c: C): Promise<Outcome>;
  /**
   * After a case that was accepted: put back a fixture it may legitimately have used up (e.g. the
   * session a valid logout ended). Resolves to true when it changed what is stored.
   */
  recover?(c: C, outcome: Outcome): Promise<boolean>;
}

/** What every port's cases are checked against. */
export interface World {
  /** Everything stored that a request could change, in a form toEqual() can compare. */
  snapshot(): Promise<unknown>;
  /** Throws when a process has crashed or restarted; `thorough` also asks each replica if ready. */
  assertHealthy(thorough: boolean): Promise<void>;
}

export interface Settings {
  /** Generated cases (fast-check's numRuns). */
  runs: number;
  seed: number;
  /** fast-check's replay path of a failure, to rerun exactly the shrunk case. */
  path?: string;
  /** Print every case and its outcome as it is sent. */
  verbose?: boolean;
}

/** CI runs the default; `npm run test:hostile -- --runs N --seed S` sets these for longer runs. */
export const DEFAULT_RUNS = 1_000;

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const int = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${value}"`);
    return n;
  };
  return {
    runs: int('HOSTILE_RUNS', env.HOSTILE_RUNS, DEFAULT_RUNS),
    // A fresh seed every run explores new cases over time; the seed is printed to replay one.
    seed: int('HOSTILE_SEED', env.HOSTILE_SEED, Math.floor(Math.random() * 2 ** 31)),
    ...(env.HOSTILE_PATH ? { path: env.HOSTILE_PATH } : {}),
    ...(env.HOSTILE_VERBOSE ? { verbose: true } : {}),
  };
}

export const replayCommand = (s: Settings) =>
  `npm run test:hostile -- --runs ${s.runs} --seed ${s.seed}${s.path ? ` --path ${s.path}` : ''}`;

export interface Report {
  /** Every case sent, shrinking included. */
  cases: number;
  byPort: Record<string, number>;
  byOutcome: Record<string, number>;
}

interface Tagged {
  port: HostilePort<unknown>;
  c: unknown;
  [fc.toStringMethod]: () => string;
}

/** Sends `settings.runs` generated cases, spread over the ports, one at a time. */
export async function runHostile(
  ports: ReadonlyArray<HostilePort<unknown>>,
  world: World,
  settings: Settings,
  log: (line: string) => void,
): Promise<Report> {
  const report: Report = { cases: 0, byPort: {}, byOutcome: {} };
  const tagged = fc.oneof(
    ...ports.map((port) =>
      port.cases.map((c): Tagged => ({
        port,
        c,
        // fast-check prints a failing case with this: one readable line, not megabytes.
        [fc.toStringMethod]: () => `${port.name}: ${port.describe(c)}`,
      })),
    ),
  );
  const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

  log(`hostile input: ${settings.runs} generated cases, seed ${settings.seed}`);
  let before = await world.snapshot();
  const property = fc.asyncProperty(tagged, async ({ port, c }) => {
    report.cases++;
    bump(report.byPort, port.name);
    if (settings.verbose) log(`#${report.cases} ${port.name}: ${port.describe(c)}`);
    const outcome = await port.probe(c);
    if (settings.verbose) log(`   -> ${outcome.label}`);
    bump(report.byOutcome, outcome.label);
    const after = await world.snapshot();
    if (outcome.refused) {
      expect({ storedAfterRefusal: after }).toEqual({ storedAfterRefusal: before });
    }
    before =
      !outcome.refused && (await port.recover?.(c, outcome)) ? await world.snapshot() : after;
    await world.assertHealthy(report.cases % 100 === 0);
  });
  try {
    await fc.assert(property, {
      numRuns: settings.runs,
      includeErrorInReport: true,
      seed: settings.seed,
      ...(settings.path ? { path: settings.path } : {}),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `hostile input failed after ${report.cases} cases (seed ${settings.seed}); replay: ${replayCommand(settings)}\n${message}`,
      { cause: err },
    );
  }
  await world.assertHealthy(true);
  log(
    `hostile input: ${report.cases} cases sent, seed ${settings.seed}, 0 failures; ` +
      `outcomes ${JSON.stringify(report.byOutcome)}`,
  );
  return report;
}
