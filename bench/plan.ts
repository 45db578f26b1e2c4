/**
 * The measurements after the whoami rounds, each declaring where it means something (from the
 * row's traits and what its store offers) and how to run it. A run plans each topology from these
 * declarations alone: `planMeasurements` is what would run, `measurementSteps` how.
 */
import { chooseFaults, faults as allFaults, type Fault, type FaultName } from './faults.js';
import { measureBackup } from './measurements/backup.js';
import { measureFailovers } from './measurements/failover.js';
import { measureGrowth } from './measurements/growth.js';
import { measureKill } from './measurements/kill.js';
import { measureLatency } from './measurements/latency.js';
import { measureLogin } from './measurements/login.js';
import { measureMemory } from './measurements/memory.js';
import { measureNat } from './measurements/nat.js';
import { measureWire } from './measurements/wire.js';
import { measureReplicaScaling } from './measurements/replica-scaling.js';
import { measureReplication } from './measurements/replication.js';
import { LINKS, measureLinks } from './measurements/links.js';
import type { BenchOptions } from './options.js';
import { storeLabel } from './probes.js';
import type { Measurement, ScalingPoint, TopologyResult } from './results.js';
import type { Subject } from './subject.js';
import { int } from './targets.js';
import { keepsSession, type Row } from './traits.js';

/** What a plan reads of the run's options. */
export type PlanOptions = Pick<BenchOptions, 'quick' | 'only'>;

/**
 * What a run has measured so far. A quick run spreads its costlier measurements over the rows:
 * each (by its key) runs on the first row it applies to, so one quick run still does every kind
 * at least once; a full run does every measurement everywhere. Either way what is a property of
 * the store alone runs once per store, and a scaling curve once per session backend.
 */
export class QuickPlan {
  private readonly done = new Set<string>();
  readonly faultsDone = new Set<FaultName>();
  /** Session backend → the row that measured its scaling curve, and the curve. */
  readonly scaled = new Map<string, { by: string; points: ScalingPoint[] | undefined }>();

  constructor(readonly quick: boolean) {}

  admits(step: Step, row: Row): boolean {
    const once = step.onceKey?.(row);
    if (once !== undefined) return this.first(once);
    const quickKey = step.quickKey?.(row);
    return !this.quick || quickKey === undefined || this.first(quickKey);
  }

  private first(key: string): boolean {
    if (this.done.has(key)) return false;
    this.done.add(key);
    return true;
  }
}

/** What a step runs with. */
export interface StepContext {
  s: Subject;
  row: Row;
  o: BenchOptions;
  plan: QuickPlan;
  say: (line: string) => void;
  /** The faults chosen for this row (the fault step). */
  faults: Fault[];
  /** Requests per second the row served flat out: the median of its whoami rounds. */
  capacity: number;
  /** The highest open-loop rate it kept up with, once the latency step found it. */
  sustained(): number | undefined;
  /** Cuts peer links: measured on a cluster of its own (run.ts). */
  measureFaultRow(chosen: Fault[]): Promise<TopologyResult['faults']>;
}

export interface Step {
  name: Measurement;
  appliesTo(row: Row, o: PlanOptions): boolean;
  /** A quick run does it once per key: on the first row it applies to. */
  quickKey?: (row: Row) => string;
  /** Every run does it once per key: what is a property of the store alone. */
  onceKey?: (row: Row) => string;
  label(c: StepContext): string;
  run(c: StepContext): Promise<Partial<TopologyResult>>;
}

/** How far behind its primary the replica is when the primary dies (measurements/failover.ts). */
const FAILOVER_LAG_MS = 600;

/** A quick run's link: the farthest (its figures judge nothing; the code path is the point). */
const quickLinks = LINKS.slice(-1);

/** The secondary runs (NAT, cost growth) are shorter than the main ones. */
const short = (o: BenchOptions) => ({
  warmupMs: Math.min(1, o.warmupSeconds) * 1000,
  durationMs: Math.max(1.5, o.durationSeconds / 2) * 1000,
});

const isProfile = (row: Row) => row.kind === 'profile';
const logins = (c: StepContext) =>
  measureLogin(c.s, { sequential: c.o.quick ? 10 : 30, clients: 4, seconds: c.o.quick ? 2 : 4 });

/** In the order they run: growth early, as it needs the store at its smallest. */
export const measurementSteps: Step[] = [
  {
    // Every topology: the peers' tails are what ours are judged against. A quick run (whose
    // figures judge nothing) measures it once per routing strategy: the open-loop generator and
    // its search are the same code whatever keeps the sessions.
    name: 'latency',
    appliesTo: () => true,
    quickKey: (row) => `latency:${row.traits.routing}`,
    label: (c) =>
      `open-loop whoami latency at ${int(c.o.commonRate)} req/s, then at 50 % and 80 % of the ` +
      `highest rate it keeps up with`,
    run: (c) =>
      measureLatency(
        c.s,
        {
          capacity: c.capacity,
          commonRate: c.o.commonRate,
          probes: c.o.quick ? 3 : 6,
          probeMs: (c.o.quick ? 1 : 3) * 1000,
          warmupMs: (c.o.quick ? 0.5 : 1) * 1000,
          durationMs: (c.o.quick ? 1.5 : 6) * 1000,
        },
        c.say,
      ),
  },
  {
    name: 'growth',
    appliesTo: (row) => isProfile(row) && row.store.fillable !== undefined,
    // How a store's cost grows with its key count is the store's, whoever fronts it.
    onceKey: (row) => `growth in ${row.store.fillable ?? ''}`,
    label: (c) =>
      `whoami p50 with 1,000 vs ${int(c.o.growthSessions)} sessions in ${c.row.store.fillable ?? ''}`,
    run: async (c) => ({
      growth: await measureGrowth(
        c.s,
        { small: 1000, large: c.o.growthSessions, rounds: c.o.rounds, ...short(c.o) },
        c.say,
      ),
    }),
  },
  {
    // Not for the peers: nginx balances them round-robin, so one address changes nothing.
    name: 'nat',
    appliesTo: isProfile,
    // The store does not change where nginx sends a client: once per routing strategy.
    quickKey: (row) => `nat:${row.traits.routing}`,
    label: (c) =>
      `the same ${c.o.clients} clients behind one NAT address, ${short(c.o).durationMs / 1000} s`,
    run: async (c) => ({ nat: await measureNat(c.s, short(c.o)) }),
  },
  {
    // Every topology: what the peers' cookies weigh is the comparison.
    name: 'wire',
    appliesTo: () => true,
    label: () => 'bytes on the wire per logged-in read (request with its cookie, and answer)',
    run: async (c) => ({ wire: await measureWire(c.s) }),
  },
  {
    name: 'login',
    appliesTo: isProfile,
    quickKey: () => 'login',
    label: () => 'login latency at the app’s argon2 cost',
    run: async (c) => ({ login: await logins(c) }),
  },
  {
    // The peers' stores are only sampled: creating thousands more sessions would say little new.
    name: 'memory',
    appliesTo: (row) => isProfile(row) || row.store.samples,
    label: (c) => {
      const label = storeLabel(c.s.stores);
      return isProfile(c.row)
        ? `memory per session in the replicas${label ? ` and ${label}` : ''} (${int(c.o.memorySessions)} new sessions)`
        : `memory per session: a sample of the sessions in ${label}`;
    },
    run: async (c) => ({
      memory: await measureMemory(c.s, isProfile(c.row) ? c.o.memorySessions : 0),
    }),
  },
  {
    name: 'replication',
    appliesTo: (row) => isProfile(row) && row.traits.copies !== undefined,
    label: (c) =>
      c.row.traits.copies === 'primary-backup'
        ? 'copies per session, peer messages per read and write, first request after a crash'
        : 'replication lag, peer messages per read and write, stale reads async vs sync',
    run: async (c) => {
      const durationMs = short(c.o).durationMs;
      if (c.row.traits.copies === 'primary-backup')
        return { backup: await measureBackup(c.s, { durationMs, writesPerSecond: 50 }) };
      return {
        replication: await measureReplication(c.s, {
          durationMs,
          writesPerSecond: 50,
          staleWrites: c.o.quick ? 50 : 200,
          boundedBasis: c.sustained(),
          sync: !c.o.quick,
        }),
      };
    },
  },
  {
    // The network mode needs root: elsewhere the run says so and goes on. A quick run measures
    // one row, on the two data centres' link only.
    name: 'links',
    appliesTo: (row) => isProfile(row) && row.traits.peerChannel,
    quickKey: () => 'links',
    label: (c) =>
      `replication lag and CPU per write over ${(c.o.quick ? quickLinks : LINKS).map((l) => l.label).join(', ')} (a cluster each)`,
    run: async (c) => {
      if (process.getuid?.() !== 0) {
        c.say('links: not measured (the network mode needs root)');
        return {};
      }
      return {
        links: await measureLinks(
          c.s.topology.spec,
          c.o.appEnv,
          {
            durationMs: short(c.o).durationMs,
            writesPerSecond: 50,
            clients: 8,
            links: c.o.quick ? quickLinks : LINKS,
          },
          c.say,
        ),
      };
    },
  },
  {
    // A client that does not keep reaching its session is logged out by most writes: its
    // backend's curve is measured by a row that can. A quick run scales one, with a peer channel.
    name: 'scaling',
    appliesTo: (row, o) =>
      isProfile(row) && keepsSession(row.traits) && (!o.quick || row.traits.peerChannel),
    quickKey: () => 'scaling',
    label: (c) => {
      const before = c.plan.scaled.get(c.row.traits.sessions);
      return before
        ? `scaling with replicas: the ${c.row.traits.sessions} backend's, measured with ${before.by}`
        : `cost per read, per write and per session with ${sizes(c.o).join(', ')} replicas (a cluster each)`;
    },
    run: async (c) => {
      const backend = c.row.traits.sessions;
      const before = c.plan.scaled.get(backend);
      if (before) return { replicaScaling: before.points };
      const points = await measureReplicaScaling(
        c.s.topology.spec,
        c.o.appEnv,
        c.o.quick
          ? {
              sizes: sizes(c.o),
              clients: 8,
              readSeconds: 1,
              writes: 40,
              writesPerSecond: 80,
              sessions: 200,
            }
          : {
              sizes: sizes(c.o),
              clients: 20,
              readSeconds: 2,
              writes: 600,
              writesPerSecond: 150,
              sessions: 1000,
            },
        c.say,
      );
      c.plan.scaled.set(backend, { by: c.row.name, points });
      return { replicaScaling: points };
    },
  },
  {
    // Before the replica kill (which leaves app-2 down): the runs restart what they kill.
    name: 'failover',
    appliesTo: (row) => isProfile(row) && row.store.failsOver,
    quickKey: () => 'store failover',
    label: () =>
      `store primary SIGKILLed under load, replicas ${FAILOVER_LAG_MS} ms behind, durable logins off then on`,
    run: async (c) => ({
      failover: await measureFailovers(c.s, {
        seconds: c.o.quick ? 6 : 20,
        lagMs: FAILOVER_LAG_MS,
        measureLogin: () => logins(c),
        durable: !c.o.quick,
      }),
    }),
  },
  {
    name: 'faults',
    appliesTo: (row) => isProfile(row) && allFaults.some((f) => f.appliesTo(row)),
    label: (c) =>
      `fault matrix: ${c.faults.map((f) => f.label).join(', ')}, each under the read load`,
    run: async (c) => ({ faults: await c.measureFaultRow(c.faults) }),
  },
  {
    name: 'kill',
    appliesTo: isProfile,
    quickKey: () => 'replica kill',
    label: (c) => `app-2 SIGKILLed a third into a ${c.o.killSeconds} s load`,
    run: async (c) => ({
      kill: await measureKill(c.s, { seconds: c.o.killSeconds, replica: 'app-2' }),
    }),
  },
];

const sizes = (o: PlanOptions) => (o.quick ? [2, 3] : [2, 3, 4, 6]);

/** The faults of the matrix a row gets in this run (a quick run: one new kind per row). */
export const faultsFor = (row: Row, plan: QuickPlan): Fault[] =>
  chooseFaults(
    allFaults.filter((f) => f.appliesTo(row)),
    plan.quick,
    plan.faultsDone,
  );

/**
 * The steps that run for `row`, in order, with the faults it gets. Planning consumes the quick
 * plan's keys: plan each row once, in the order the rows are measured.
 */
export function planMeasurements(
  row: Row,
  o: PlanOptions,
  plan: QuickPlan,
): { steps: Step[]; faults: Fault[] } {
  const wanted = (m: Measurement) => !o.only || o.only.includes(m);
  const steps = measurementSteps.filter(
    (step) => wanted(step.name) && step.appliesTo(row, o) && plan.admits(step, row),
  );
  const faults = steps.some((s) => s.name === 'faults') ? faultsFor(row, plan) : [];
  return { steps: steps.filter((s) => s.name !== 'faults' || faults.length > 0), faults };
}
