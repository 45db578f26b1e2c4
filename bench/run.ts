/**
 * One benchmark run: start every topology, log the clients in, measure whoami throughput in
 * interleaved rounds (so drift on a shared machine hits every topology alike), then each
 * topology's own measurements; stop everything, whatever happened.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { backendOf, guaranteesOf, profileOf } from '../cluster/profiles.js';
import { pluginsOf } from '../cluster/services/index.js';
import { collectCpuProfiles, startCpuProfiles } from './cpu-profile.js';
import { inParallel, runLoad } from './load.js';
import { int } from './targets.js';
import { describeMachine } from './machine.js';
import { fillableStore, measureGrowth } from './measurements/growth.js';
import { chooseFaults, faults as allFaults, type Fault, type FaultName } from './faults.js';
import { measureFailovers } from './measurements/failover.js';
import { measureFaults, type FaultTiming } from './measurements/faults.js';
import { measureKill } from './measurements/kill.js';
import { measureLogin } from './measurements/login.js';
import { measureMemory } from './measurements/memory.js';
import { measureNat } from './measurements/nat.js';
import { measureReplicaScaling } from './measurements/replica-scaling.js';
import { measureBackup } from './measurements/backup.js';
import { measureReplication } from './measurements/replication.js';
import { aggregateThroughput, measureThroughput } from './measurements/throughput.js';
import type { BenchOptions } from './options.js';
import { storeLabel, storeServiceOf } from './probes.js';
import type {
  BenchResult,
  Complexity,
  FaultCell,
  Measurement,
  ScalingPoint,
  ThroughputSample,
  TopologyResult,
} from './results.js';
import { assertRunning, prepareSubject, type Subject } from './subject.js';
import { startTopology, topologySpecs, type RunningTopology } from './topology.js';

export type Say = (line: string) => void;

export const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');
/** A run's name in bench/results/: its start time, usable in file names. */
export const stamp = (startedAt: Date | string) =>
  new Date(startedAt).toISOString().replace(/[:.]/g, '-');

/**
 * How far behind its primary the replica is when the primary dies, in the failover runs (see
 * measurements/failover.ts): on loopback it is otherwise microseconds, and nothing is lost.
 */
const FAILOVER_LAG_MS = 600;

/** Topologies started at once (each start is mostly waiting on initdb and Nest's boot). */
const START_CONCURRENCY = 3;

/**
 * What a run has measured so far. A quick run spreads its costlier measurements over the
 * profiles: each kind (a key) runs on the first profile it applies to, so one quick run still does
 * every kind at least once; a full run does every measurement everywhere. Either way the scaling
 * curves are measured once per session backend (profiles that differ only in routing share one).
 */
class QuickPlan {
  private readonly done = new Set<string>();
  readonly faultsDone = new Set<FaultName>();
  /** Session backend → the profile that measured its scaling curve, and the curve. */
  readonly scaled = new Map<string, { by: string; points: ScalingPoint[] | undefined }>();

  constructor(private readonly quick: boolean) {}

  /** Whether to run the measurement `key` on this profile. */
  take(key: string): boolean {
    return !this.quick || this.once(key);
  }

  /** Whether `key` is new to this run, quick or full: for what is a property of the store alone. */
  once(key: string): boolean {
    if (this.done.has(key)) return false;
    this.done.add(key);
    return true;
  }
}

/** What is running right now, so an interrupted run can still stop it. */
const running = new Set<RunningTopology>();

export async function stopEverything(): Promise<void> {
  for (const t of [...running].reverse()) {
    await t.stop().catch(() => undefined);
    running.delete(t);
  }
}

export interface RunOutcome {
  result: BenchResult;
  /** Measurements that broke (the harness, not a target): the run still reports the rest. */
  failures: string[];
}

export async function runBench(o: BenchOptions, say: Say): Promise<RunOutcome> {
  const startedAt = new Date();
  const machine = await describeMachine();
  say(
    `machine: ${machine.cpus} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}, ` +
      `nginx ${machine.nginx}, Redis ${machine.redis}, PostgreSQL ${machine.postgres}`,
  );
  const subjects: Subject[] = [];
  const failures: string[] = [];
  const topologies: TopologyResult[] = [];
  const ms = (seconds: number) => seconds * 1000;
  try {
    // Started a few at a time (starting is mostly waiting for processes), kept in their order.
    const names = [...o.profiles, ...o.peers];
    const started = await inParallel(names, START_CONCURRENCY, async (name) => {
      const spec = topologySpecs[name];
      const t0 = Date.now();
      const services = pluginsOf(profileOf(spec.profile)).map((p) => p.name);
      say(`${name}: starting ${services.join(', ')} …`);
      const topology = await startTopology(spec, o.appEnv, () => undefined);
      running.add(topology);
      say(
        `${name}: started in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${topology.cluster.url}`,
      );
      if (spec.login) say(`${name}: ${o.clients} clients log in, each from its own 127.N.M.1 …`);
      return prepareSubject(topology, o.clients);
    });
    subjects.push(...started);

    // A fresh Node process runs its code unoptimized at first (the express peer warms faster
    // than Nest): one longer unmeasured run per topology before any measured one.
    for (const s of subjects) {
      say(`${s.name}: warm-up load ${o.firstWarmupSeconds} s …`);
      await runLoad(s.clients, {
        path: '/api/whoami',
        warmupMs: 0,
        durationMs: ms(o.firstWarmupSeconds),
      });
    }

    const samples = new Map<string, ThroughputSample[]>(subjects.map((s) => [s.name, []]));
    const broken = new Set<Subject>();
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of subjects.filter((x) => !broken.has(x))) {
        say(
          `${s.name}: whoami load ${o.durationSeconds} s, ${o.clients} clients (round ${round}/${o.rounds}) …`,
        );
        try {
          assertRunning(s);
          const profile = o.cpuProfile && round === o.rounds;
          if (profile) await startCpuProfiles(s);
          const sample = await measureThroughput(s, {
            warmupMs: ms(o.warmupSeconds),
            durationMs: ms(o.durationSeconds),
          });
          assertRunning(s); // a process that died during the run makes its figures wrong
          if (profile) {
            const files = await collectCpuProfiles(s, join(RESULTS_DIR, `${stamp(startedAt)}-cpu`));
            say(`${s.name}: CPU profiles in ${dirname(files[0] ?? '')}`);
          }
          const l = sample.load;
          say(
            `${s.name}: ${int(l.rps)} req/s, p50 ${l.latency.p50.toFixed(1)} ms, p99 ${l.latency.p99.toFixed(1)} ms, ` +
              `${l.non2xx + l.errors} failed, ${Math.round(l.authenticatedShare * 100)} % authenticated`,
          );
          samples.get(s.name)!.push(sample);
        } catch (error) {
          const message = `${s.name}: whoami load failed, no more measurements of it: ${(error as Error).message}`;
          say(message);
          failures.push(message);
          broken.add(s);
        }
      }
    }

    const quickPlan = new QuickPlan(o.quick);
    for (const s of subjects.filter((x) => !broken.has(x))) {
      topologies.push(await measureTopology(s, samples.get(s.name)!, o, say, failures, quickPlan));
    }
  } finally {
    for (const s of subjects) await s.close();
    if (running.size) say('stopping every topology …');
    await stopEverything();
  }
  const finishedAt = new Date();
  return {
    failures,
    result: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      settings: {
        quick: o.quick,
        cpuProfile: o.cpuProfile,
        clients: o.clients,
        warmupSeconds: o.warmupSeconds,
        firstWarmupSeconds: o.firstWarmupSeconds,
        durationSeconds: o.durationSeconds,
        rounds: o.rounds,
        memorySessions: o.memorySessions,
        growthSessions: o.growthSessions,
        killSeconds: o.killSeconds,
        profiles: o.profiles,
        peers: o.peers,
        appEnv: o.appEnv,
        ...(o.only ? { only: o.only } : {}),
      },
      machine,
      topologies,
    },
  };
}

/**
 * The faults of one profile: on its measured cluster, except those that cut peer links, which
 * need a cluster of their own with relays (see Fault.needsPeerRelays).
 */
async function measureFaultRow(
  s: Subject,
  chosen: Fault[],
  timing: FaultTiming,
  o: BenchOptions,
  say: Say,
): Promise<FaultCell[]> {
  const cells = await measureFaults(
    s,
    chosen.filter((f) => !f.needsPeerRelays),
    timing,
    say,
  );
  const relayed = chosen.filter((f) => f.needsPeerRelays);
  if (!relayed.length) return cells;
  say(
    `a cluster of its own with relayed peer links for ${relayed.map((f) => f.label).join(', ')} …`,
  );
  const topology = await startTopology(s.topology.spec, o.appEnv, () => undefined, {
    peerRelays: true,
  });
  running.add(topology);
  let subject: Subject | undefined;
  try {
    subject = await prepareSubject(topology, s.clients.length);
    cells.push(...(await measureFaults(subject, relayed, timing, say)));
  } finally {
    await subject?.close();
    await topology.stop();
    running.delete(topology);
  }
  return cells;
}

async function complexityOf(s: Subject): Promise<Complexity> {
  const lines = async (file: string) =>
    (await readFile(join(PROJECT_ROOT, file), 'utf8').catch(() => '')).split('\n').length - 1;
  const members = s.topology.cluster.status();
  return {
    processes: members.map((m) => m.name),
    sessionCode: await Promise.all(
      s.topology.spec.sessionCode.map(async (file) => ({ file, lines: await lines(file) })),
    ),
    stores: [...new Set(members.map(storeServiceOf).filter((name) => name !== undefined))],
  };
}

/** Measurements 3–7 for one topology, each only where it means something. */
async function measureTopology(
  s: Subject,
  samples: ThroughputSample[],
  o: BenchOptions,
  say: Say,
  failures: string[],
  quickPlan: QuickPlan,
): Promise<TopologyResult> {
  const spec = s.topology.spec;
  const isProfile = spec.kind === 'profile';
  const result: TopologyResult = {
    name: spec.name,
    kind: spec.kind,
    what: spec.what,
    upstream: profileOf(spec.profile).routing,
    store: spec.store,
    replicas: [...s.replicas],
    complexity: await complexityOf(s),
    loginsForSetup: s.setupLogins,
    throughput: aggregateThroughput(samples),
    notes: [],
  };
  // A measurement that breaks is noted and the run goes on: the others still mean something.
  const wanted = (m: Measurement) => !o.only || o.only.includes(m);
  const phase = async <T>(label: string, work: () => Promise<T>): Promise<T | undefined> => {
    say(`${spec.name}: ${label} …`);
    try {
      assertRunning(s);
      return await work();
    } catch (error) {
      const message = `${spec.name}: ${label} failed: ${(error as Error).message.split('\n')[0]}`;
      say(message);
      failures.push(message);
      result.notes.push(message);
      return undefined;
    }
  };
  // The secondary runs (NAT, cost growth) are shorter than the main ones.
  const short = {
    warmupMs: Math.min(1, o.warmupSeconds) * 1000,
    durationMs: Math.max(1.5, o.durationSeconds / 2) * 1000,
  };

  // Growth first: it needs the store at 1,000 sessions, before the later phases add more.
  const fillable = fillableStore(s);
  // Once per kind of store: how Redis's cost grows with its key count is Redis's, whoever fronts it.
  if (isProfile && fillable && wanted('growth') && quickPlan.once(`growth in ${fillable.label}`)) {
    result.growth = await phase(
      `whoami p50 with 1,000 vs ${int(o.growthSessions)} sessions in ${fillable.label}`,
      () =>
        measureGrowth(
          s,
          { small: 1000, large: o.growthSessions, rounds: o.rounds, ...short },
          (line) => say(`${spec.name}: ${line}`),
        ),
    );
  }
  // Quick: once per routing strategy (the store does not change where nginx sends a client).
  // Not for the peers: nginx balances them round-robin, so one address changes nothing.
  if (isProfile && wanted('nat') && quickPlan.take(`nat:${profileOf(spec.profile).routing}`)) {
    result.nat = await phase(
      `the same ${o.clients} clients behind one NAT address, ${short.durationMs / 1000} s`,
      () => measureNat(s, short),
    );
  }
  const logins = () =>
    measureLogin(s, { sequential: o.quick ? 10 : 30, clients: 4, seconds: o.quick ? 2 : 4 });
  if (isProfile && wanted('login') && quickPlan.take('login')) {
    result.login = await phase('login latency at the app’s argon2 cost', logins);
  }
  // The peers' stores are only sampled: creating thousands more sessions would say little new.
  if (wanted('memory') && (isProfile || s.stores.some((store) => store.sampleSessions))) {
    const label = storeLabel(s.stores);
    result.memory = await phase(
      isProfile
        ? `memory per session in the replicas${label ? ` and ${label}` : ''} (${int(o.memorySessions)} new sessions)`
        : `memory per session: a sample of the sessions in ${label}`,
      () => measureMemory(s, isProfile ? o.memorySessions : 0),
    );
  }
  const copies = isProfile ? backendOf(profileOf(spec.profile)).copies : undefined;
  const peerChannel = copies !== undefined;
  if (copies === 'primary-backup' && wanted('replication')) {
    result.backup = await phase(
      `copies per session, peer messages per read and write, first request after a crash`,
      () => measureBackup(s, { durationMs: short.durationMs, writesPerSecond: 50 }),
    );
  } else if (copies === 'every-replica' && wanted('replication')) {
    result.replication = await phase(
      `replication lag, peer messages per read and write, stale reads async vs sync`,
      () =>
        measureReplication(s, {
          durationMs: short.durationMs,
          writesPerSecond: 50,
          staleWrites: o.quick ? 50 : 200,
          sync: !o.quick,
        }),
    );
  }
  // Every backend in a full run; a quick run scales one, the first with a peer channel.
  const backend = profileOf(spec.profile).sessions;
  const scaledBefore = quickPlan.scaled.get(backend);
  // A client that does not keep reaching its session (round robin over sessions kept apart:
  // naive) is logged out by most writes: its backend's curve is measured by a profile that can.
  const keepsSession =
    guaranteesOf(profileOf(spec.profile)).sharedAcrossReplicas ||
    profileOf(spec.profile).routing !== 'round-robin';
  if (isProfile && !keepsSession && wanted('scaling')) {
    say(
      `${spec.name}: scaling with replicas: not measurable, its writes meet the session mismatch`,
    );
  } else if (isProfile && scaledBefore && wanted('scaling')) {
    say(
      `${spec.name}: scaling with replicas: the ${backend} backend's, measured with ${scaledBefore.by}`,
    );
    result.replicaScaling = scaledBefore.points;
  } else if (
    isProfile &&
    (!o.quick || peerChannel) &&
    wanted('scaling') &&
    quickPlan.take('scaling')
  ) {
    const sizes = o.quick ? [2, 3] : [2, 3, 4, 6];
    result.replicaScaling = await phase(
      `cost per read, per write and per session with ${sizes.join(', ')} replicas (a cluster each)`,
      () =>
        measureReplicaScaling(
          spec,
          o.appEnv,
          o.quick
            ? { sizes, clients: 8, readSeconds: 1, writes: 40, writesPerSecond: 80, sessions: 200 }
            : {
                sizes,
                clients: 20,
                readSeconds: 2,
                writes: 600,
                writesPerSecond: 150,
                sessions: 1000,
              },
          (line) => say(`${spec.name}: ${line}`),
        ),
    );
    quickPlan.scaled.set(backend, { by: spec.name, points: result.replicaScaling });
  }
  // Before the replica kill (which leaves app-2 down): the runs restart what they kill.
  if (
    isProfile &&
    wanted('failover') &&
    (await s.topology.cluster.storeFailover().catch(() => undefined)) &&
    quickPlan.take('store failover')
  ) {
    result.failover = await phase(
      `store primary SIGKILLed under load, replica ${FAILOVER_LAG_MS} ms behind, durable logins off then on`,
      () =>
        measureFailovers(s, {
          seconds: o.quick ? 6 : 20,
          lagMs: FAILOVER_LAG_MS,
          measureLogin: logins,
          durable: !o.quick,
        }),
    );
  }
  const applicable: Fault[] = [];
  if (isProfile && wanted('faults'))
    for (const f of allFaults) if (await f.appliesTo(s.topology.cluster)) applicable.push(f);
  const chosen = chooseFaults(applicable, o.quick, quickPlan.faultsDone);
  if (chosen.length) {
    const timing: FaultTiming = o.quick
      ? { leadMs: 1000, tailMs: 1500 }
      : { leadMs: 1500, tailMs: 2000 };
    result.faults = await phase(
      `fault matrix: ${chosen.map((f) => f.label).join(', ')}, each under the read load`,
      () => measureFaultRow(s, chosen, timing, o, (line) => say(`${spec.name}: ${line}`)),
    );
  }
  if (isProfile && wanted('kill') && quickPlan.take('replica kill')) {
    result.kill = await phase(`app-2 SIGKILLed a third into a ${o.killSeconds} s load`, () =>
      measureKill(s, { seconds: o.killSeconds, replica: 'app-2' }),
    );
  }
  return result;
}
