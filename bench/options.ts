/** `npm run bench -- …` flags: parsed and checked here, so the run never starts half-configured. */
import { parseArgs } from 'node:util';
import {
  measurements,
  type BenchSettings,
  type Measurement,
  type TopologyName,
} from './results.js';
import { peerTopologies, profileTopologies } from './topology.js';

export const USAGE = `Usage: npm run bench -- [options]

  --profile <list>    app profiles to measure, comma-separated: ${profileTopologies.join(',')} (default: all)
  --peers <list>      peers to measure: ${peerTopologies.join(',')} or none
                      (default: all, or none when --profile or --quick is given)
  --clients <n>       virtual clients, each logged in from its own 127.N.M.1 (default 300; quick 40)
  --duration <s>      measured seconds per whoami run (default 8; quick 2)
  --warmup <s>        unmeasured seconds before each run (default 2; quick 0.5)
  --rounds <n>        whoami runs per topology, in a row; medians are reported (default 3; quick 1)
  --rate <n>          the rate every row's open-loop latency is also measured at, req/s
                      (first; then 50 % and 80 % of the highest rate each row keeps up with;
                      default 300; quick 150)
  --sessions <n>      sessions created to measure memory per session (default 4000; quick 300)
  --growth <n>        sessions in the store for the cost-growth run, once per kind of store
                      (default 100000; quick 5000)
  --env KEY=VALUE     extra environment for every replica (repeatable), e.g. LOG_LEVEL=warn
  --only <list>       after the whoami rounds, run only these measurements, comma-separated:
                      ${measurements.join(',')} (default: every one that applies)
  --cpu-profile       CPU profiles of every replica in the last round, in bench/results/<run>-cpu/
  --quick             CI mode, every profile in a few minutes: the sizes above small, no
                      peers, and the costlier measurements (open-loop latency per routing,
                      login, cost growth per store, scaling, store failover, replica kill, one
                      fault per profile) spread over the profiles so each runs at least once;
                      targets are printed, never fail
  --render <file>     measure nothing: write the report and charts again from a results JSON
                      (bench/REPORT.json: the committed report, byte for byte)
  --compare <files>   measure nothing: results JSONs, comma-separated, side by side with the
                      spread of each ratio (throughput ÷ the run's fastest, the targets' figures)
  -h, --help          this text

A full run (all profiles and peers, no --quick, --env, --only or --cpu-profile) rewrites bench/REPORT.md,
its charts and bench/REPORT.json (its figures); any other run writes its report next to its JSON
in bench/results/.
Exit codes: 0 done, 1 the harness failed, 2 bad flags, 3 a target failed (not with --quick).`;

export class UsageError extends Error {}

export interface BenchOptions extends BenchSettings {
  commonRate: number;
  help: boolean;
  /** A results JSON to render again instead of measuring. */
  render?: string;
  /** Results JSONs to compare instead of measuring. */
  compare?: string[];
  /** All profiles and peers at their defaults: this run may replace bench/REPORT.md. */
  full: boolean;
}

const DEFAULTS = {
  normal: {
    clients: 300,
    duration: 8,
    // Long enough for the touch storm a round starts with: after two idle minutes every client's
    // first read saves its session, and on Postgres those 300 saves take over a second.
    warmup: 2,
    rounds: 3,
    sessions: 4_000,
    growth: 100_000,
    kill: 6,
    // The least warm-up per topology; it goes on while the throughput still rises (run.ts).
    firstWarmup: 12,
    // Half the slowest row's capacity here (postgres at 300 clients): below every row's.
    rate: 300,
  },
  quick: {
    clients: 40,
    duration: 2,
    warmup: 0.5,
    rounds: 1,
    sessions: 300,
    growth: 5_000,
    firstWarmup: 1,
    kill: 3,
    rate: 150,
  },
};

function number(
  flag: string,
  raw: string | undefined,
  fallback: number,
  o: { min: number; max: number; integer: boolean },
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < o.min || n > o.max || (o.integer && !Number.isInteger(n))) {
    const kind = o.integer ? 'a whole number' : 'a number';
    throw new UsageError(`--${flag} must be ${kind} from ${o.min} to ${o.max}, not "${raw}"`);
  }
  return n;
}

function list(flag: string, raw: string, allowed: readonly TopologyName[]): TopologyName[] {
  if (raw === 'none') return [];
  const names = raw.split(',').map((n) => n.trim());
  const bad = names.filter((n) => !allowed.includes(n));
  if (bad.length || names.length === 0) {
    throw new UsageError(
      `--${flag}: unknown "${bad.join(', ')}"; choose from ${allowed.join(', ')}`,
    );
  }
  return [...new Set(names)];
}

function files(flag: string, raw: string): string[] {
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length < 2)
    throw new UsageError(`--${flag} needs two or more results files, comma-separated`);
  return names;
}

/** All profiles and peers, undisturbed by quick sizes, extra env or the profiler. */
export function isFullRun(s: BenchSettings): boolean {
  return (
    !s.quick &&
    !s.cpuProfile &&
    !s.missing?.length &&
    Object.keys(s.appEnv).length === 0 &&
    s.only === undefined &&
    s.profiles.length === profileTopologies.length &&
    s.peers.length === peerTopologies.length
  );
}

export function parseOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        profile: { type: 'string' },
        peers: { type: 'string' },
        clients: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        rounds: { type: 'string' },
        rate: { type: 'string' },
        sessions: { type: 'string' },
        growth: { type: 'string' },
        env: { type: 'string', multiple: true },
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        render: { type: 'string' },
        compare: { type: 'string' },
        'cpu-profile': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const d = values.quick ? DEFAULTS.quick : DEFAULTS.normal;
  const profiles = values.profile
    ? list('profile', values.profile, profileTopologies)
    : profileTopologies;
  const peers =
    values.peers !== undefined
      ? list('peers', values.peers, peerTopologies)
      : values.profile || values.quick
        ? []
        : peerTopologies;
  if (profiles.length + peers.length === 0) throw new UsageError('nothing to measure');
  const appEnv: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const [, key, value] = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair) ?? [];
    if (key === undefined || value === undefined)
      throw new UsageError(`--env takes KEY=VALUE, not "${pair}"`);
    appEnv[key] = value;
  }
  let only: Measurement[] | undefined;
  if (values.only !== undefined) {
    const names = values.only.split(',').map((n) => n.trim());
    const bad = names.filter((n) => !(measurements as readonly string[]).includes(n));
    if (bad.length || names.length === 0)
      throw new UsageError(
        `--only: unknown "${bad.join(', ')}"; choose from ${measurements.join(', ')}`,
      );
    only = [...new Set(names as Measurement[])];
  }
  const clients = number('clients', values.clients, d.clients, {
    min: 1,
    max: 5000,
    integer: true,
  });
  // The run compares 1 000 sessions with this many, so it must be more.
  const growthSessions = number('growth', values.growth, d.growth, {
    min: 2000,
    max: 1_000_000,
    integer: true,
  });
  const options: BenchOptions = {
    help: values.help,
    render: values.render,
    compare: values.compare === undefined ? undefined : files('compare', values.compare),
    quick: values.quick,
    cpuProfile: values['cpu-profile'],
    clients,
    durationSeconds: number('duration', values.duration, d.duration, {
      min: 0.5,
      max: 600,
      integer: false,
    }),
    warmupSeconds: number('warmup', values.warmup, d.warmup, { min: 0, max: 60, integer: false }),
    firstWarmupSeconds: d.firstWarmup,
    rounds: number('rounds', values.rounds, d.rounds, { min: 1, max: 20, integer: true }),
    commonRate: number('rate', values.rate, d.rate, { min: 1, max: 100_000, integer: true }),
    memorySessions: number('sessions', values.sessions, d.sessions, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    growthSessions,
    killSeconds: d.kill,
    profiles,
    peers,
    appEnv,
    ...(only ? { only } : {}),
    full: false,
  };
  options.full = isFullRun(options);
  return options;
}
