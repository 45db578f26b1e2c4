/**
 * One benchmark run, one topology at a time: start it, log the clients in, measure whoami
 * throughput in rounds, then its own measurements, and stop it (whatever happened) before the
 * next one starts.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { profileOf } from '../cluster/profiles.js';
import { pluginsOf } from '../cluster/services/index.js';
import { collectCpuProfiles, profileSummaryLine, startCpuProfiles } from './cpu-profile.js';
import type { Fault } from './faults.js';
import { runLoad, warmedUp } from './load.js';
import { generatorFlags } from './open-loop.js';
import { describeMachine } from './machine.js';
import { fillableStore } from './measurements/growth.js';
import { measureFaults, type FaultTiming } from './measurements/faults.js';
import { aggregateThroughput, measureThroughput } from './measurements/throughput.js';
import type { BenchOptions } from './options.js';
import { planMeasurements, QuickPlan, type StepContext } from './plan.js';
import { storeServiceOf } from './probes.js';
import type {
  BenchResult,
  GeneratorFooting,
  TopologyName,
  Complexity,
  FaultCell,
  ThroughputSample,
  TopologyResult,
} from './results.js';
import { assertRunning, prepareSubject, type Subject } from './subject.js';
import { int } from './targets.js';
import {
  BENCH_SESSION_IDLE_SECONDS,
  SERVER_NICENESS,
  startTopology,
  sweepAbandonedWorkDirs,
  topologySpecs,
  type RunningTopology,
} from './topology.js';
import { defined } from '../src/common/defined.js';
import { DEFAULT_THREAD_PRIORITY } from '../src/replication/channel/thread-priority.js';
import { traitsOf, type Row } from './traits.js';
import { RESULTS_DIR, stamp } from './render.js';

export type Say = (line: string) => void;

/** What is running right now, so an interrupted run can still stop it. */
const running = new Set<RunningTopology>();

let interrupted = false;

/** Ctrl-C: stop what runs, and start nothing more. */
export function interruptRun(): Promise<void> {
  interrupted = true;
  return stopEverything();
}

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
  const swept = await sweepAbandonedWorkDirs();
  if (swept.length)
    say(`stopped what ${swept.length} killed run(s) left running: ${swept.join(', ')}`);
  const failures: string[] = [];
  const topologies: TopologyResult[] = [];
  const plan = new QuickPlan(o.quick);
  // One topology at a time, started, measured through and stopped before the next: another
  // cluster left running (even idle: its timers, heartbeats and gossip wake it up hundreds of
  // times a second) took a fifth to two fifths of a measured one's throughput and multiplied
  // its tail, more for some rows than others.
  const missing: TopologyName[] = [];
  for (const name of [...o.profiles, ...o.peers]) {
    if (interrupted) break;
    let s: Subject | undefined;
    try {
      s = await startSubject(name, o, say);
      await warmUp(s, o, say);
      const samples = await measureRounds(s, o, say, failures, startedAt);
      if (samples) topologies.push(await measureTopology(s, samples, o, say, failures, plan));
      else missing.push(name);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      say(`${name}: could not be measured: ${text}`);
      failures.push(`${name}: could not be measured: ${text.split('\n', 1)[0] ?? ''}`);
      missing.push(name);
    } finally {
      await s?.close();
      await stopEverything();
    }
  }
  const finishedAt = new Date();
  return {
    failures,
    result: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      // A run missing a row is not the full run, whatever its flags: it never replaces the
      // committed report (isFullRun).
      settings: { ...settingsOf(o), ...(missing.length ? { missing } : {}) },
      machine,
      topologies,
    },
  };
}

function settingsOf(o: BenchOptions): BenchResult['settings'] {
  return {
    quick: o.quick,
    cpuProfile: o.cpuProfile,
    clients: o.clients,
    warmupSeconds: o.warmupSeconds,
    firstWarmupSeconds: o.firstWarmupSeconds,
    warmupUntilSteady: !o.quick,
    durationSeconds: o.durationSeconds,
    rounds: o.rounds,
    oneAtATime: true,
    conditions: {
      threadPriority:
        o.appEnv.REPLICATION_THREAD_PRIORITY ?? `${DEFAULT_THREAD_PRIORITY} (the default)`,
      postgres: 'its defaults: fsync, synchronous_commit and full_page_writes on',
      sessionIdleTimeoutSeconds: BENCH_SESSION_IDLE_SECONDS,
      generator: generatorFooting(),
    },
    commonRate: o.commonRate,
    memorySessions: o.memorySessions,
    growthSessions: o.growthSessions,
    killSeconds: o.killSeconds,
    profiles: o.profiles,
    peers: o.peers,
    appEnv: o.appEnv,
    ...(o.only ? { only: o.only } : {}),
  };
}

/** A topology started, and its clients logged in. */
async function startSubject(name: TopologyName, o: BenchOptions, say: Say): Promise<Subject> {
  const spec = defined(topologySpecs[name], `topology ${name}`);
  const t0 = Date.now();
  const services = pluginsOf(profileOf(spec.profile)).map((p) => p.name);
  say(`${name}: starting ${services.join(', ')} …`);
  const topology = await startTopology(spec, o.appEnv, () => undefined);
  running.add(topology);
  say(`${name}: started in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${topology.cluster.url}`);
  if (spec.login) say(`${name}: ${o.clients} clients log in, each from its own 127.N.M.1 …`);
  return prepareSubject(topology, o.clients);
}

/**
 * A fresh Node process runs its code unoptimized at first, and its optimizing compiler runs on
 * threads that share the niced servers' cores: with a fixed three seconds, `replicated` served
 * 1,500 req/s in its first second and rose for about fifteen more, so a row's first round came
 * out a third below its later ones. The warm-up runs one-second slices until the throughput
 * stops rising (see warmedUp), for at least `firstWarmupSeconds` and at most WARMUP_LIMIT_S.
 */
async function warmUp(s: Subject, o: BenchOptions, say: Say): Promise<void> {
  const limit = Math.max(o.firstWarmupSeconds, o.quick ? 0 : WARMUP_LIMIT_S);
  say(
    limit > o.firstWarmupSeconds
      ? `${s.name}: warm-up load until its throughput stops rising (${o.firstWarmupSeconds}–${limit} s) …`
      : `${s.name}: warm-up load ${limit} s …`,
  );
  const slices: number[] = [];
  while (slices.length < limit && !warmedUp(slices, o.firstWarmupSeconds)) {
    const run = await runLoad(s.clients, { path: '/api/whoami', warmupMs: 0, durationMs: 1000 });
    // Answers that count: a row failing fast would otherwise look warm at once.
    slices.push((run.requests - run.errors - run.non2xx) / run.seconds);
  }
  say(`${s.name}: warmed up in ${slices.length} s, last ${int(slices.at(-1) ?? 0)} req/s`);
}

const WARMUP_LIMIT_S = 30;

/** The whoami rounds; undefined when the load failed (the topology is measured no further). */
async function measureRounds(
  s: Subject,
  o: BenchOptions,
  say: Say,
  failures: string[],
  startedAt: Date,
): Promise<ThroughputSample[] | undefined> {
  const samples: ThroughputSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    say(
      `${s.name}: whoami load ${o.durationSeconds} s, ${o.clients} clients (round ${round}/${o.rounds}) …`,
    );
    try {
      samples.push(await measureRound(s, o, say, round === o.rounds, startedAt));
    } catch (error) {
      const message = `${s.name}: whoami load failed, no more measurements of it: ${(error as Error).message}`;
      say(message);
      failures.push(message);
      return undefined;
    }
  }
  return samples;
}

async function measureRound(
  s: Subject,
  o: BenchOptions,
  say: Say,
  last: boolean,
  startedAt: Date,
): Promise<ThroughputSample> {
  assertRunning(s);
  const profile = o.cpuProfile && last;
  if (profile) await startCpuProfiles(s);
  const sample = await measureThroughput(s, {
    warmupMs: o.warmupSeconds * 1000,
    durationMs: o.durationSeconds * 1000,
  });
  assertRunning(s); // a process that died during the run makes its figures wrong
  if (profile) {
    const files = await collectCpuProfiles(s, join(RESULTS_DIR, `${stamp(startedAt)}-cpu`));
    say(`${s.name}: CPU profiles in ${dirname(files[0] ?? '')}`);
    for (const file of files) {
      const summary = await profileSummaryLine(file).catch(
        (error: unknown) => `no summary (${error instanceof Error ? error.message : 'unreadable'})`,
      );
      say(`  ${basename(file)}: ${summary}`);
    }
  }
  const l = sample.load;
  say(
    `${s.name}: ${int(l.rps)} req/s, p50 ${l.latency.p50.toFixed(1)} ms, p99 ${l.latency.p99.toFixed(1)} ms, ` +
      `${l.non2xx + l.errors} failed, ${Math.round(l.authenticatedShare * 100)} % authenticated`,
  );
  return sample;
}

/**
 * The faults of one profile: on its measured cluster, except those that cut peer links (a cluster
 * of its own with relays, see Fault.needsPeerRelays) and those of the network mode (a cluster of
 * its own in namespaces, as root only: Fault.needsNetwork).
 */
async function measureFaultRow(
  s: Subject,
  chosen: Fault[],
  timing: FaultTiming,
  o: BenchOptions,
  say: Say,
): Promise<FaultCell[]> {
  const own = (f: Fault) => f.needsPeerRelays ?? f.needsNetwork;
  const cells = await measureFaults(
    s,
    chosen.filter((f) => !own(f)),
    timing,
    say,
  );
  const relayed = chosen.filter((f) => f.needsPeerRelays);
  if (relayed.length) {
    say(
      `a cluster of its own with relayed peer links for ${relayed.map((f) => f.label).join(', ')} …`,
    );
    cells.push(...(await onClusterOfItsOwn(s, relayed, timing, o, say, { peerRelays: true })));
  }
  const networked = chosen.filter((f) => f.needsNetwork);
  if (networked.length && process.getuid?.() !== 0)
    say(`${networked.map((f) => f.label).join(', ')}: not measured (the network mode needs root)`);
  else if (networked.length) {
    say(
      `a cluster of its own in the network mode for ${networked.map((f) => f.label).join(', ')} …`,
    );
    cells.push(...(await onClusterOfItsOwn(s, networked, timing, o, say, { network: 'netns' })));
  }
  return cells;
}

async function onClusterOfItsOwn(
  s: Subject,
  chosen: Fault[],
  timing: FaultTiming,
  o: BenchOptions,
  say: Say,
  start: { peerRelays?: boolean; network?: 'netns' },
): Promise<FaultCell[]> {
  const topology = await startTopology(s.topology.spec, o.appEnv, () => undefined, start);
  running.add(topology);
  let subject: Subject | undefined;
  try {
    subject = await prepareSubject(topology, s.clients.length);
    return await measureFaults(subject, chosen, timing, say);
  } finally {
    await subject?.close();
    await topology.stop();
    running.delete(topology);
  }
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

/** A running topology as planning sees it: its row's traits and what its store offers. */
async function rowOf(s: Subject): Promise<Row> {
  const { spec, cluster } = s.topology;
  const fillable = fillableStore(s);
  return {
    name: spec.name,
    kind: spec.kind,
    traits: traitsOf(profileOf(spec.profile)),
    store: {
      ...(fillable ? { fillable: fillable.label } : {}),
      samples: s.stores.some((store) => store.sampleSessions),
      failsOver: (await cluster.storeFailover().catch(() => undefined)) !== undefined,
    },
  };
}

/** The measurements after the whoami rounds for one topology: those its row plans. */
async function measureTopology(
  s: Subject,
  samples: ThroughputSample[],
  o: BenchOptions,
  say: Say,
  failures: string[],
  plan: QuickPlan,
): Promise<TopologyResult> {
  const spec = s.topology.spec;
  const row = await rowOf(s);
  const result: TopologyResult = {
    name: spec.name,
    kind: spec.kind,
    what: spec.what,
    upstream: row.traits.routing,
    store: spec.store,
    traits: row.traits,
    replicas: [...s.replicas],
    complexity: await complexityOf(s),
    loginsForSetup: s.setupLogins,
    throughput: aggregateThroughput(samples),
    notes: [],
  };
  const { steps, faults } = planMeasurements(row, o, plan);
  const prefixed = (line: string) => {
    say(`${spec.name}: ${line}`);
  };
  const timing: FaultTiming = o.quick
    ? { leadMs: 1000, tailMs: 1500 }
    : { leadMs: 1500, tailMs: 2000 };
  const context: StepContext = {
    s,
    row,
    o,
    plan,
    say: prefixed,
    faults,
    capacity: result.throughput.rps,
    sustained: () => result.sustained?.ratePerSecond,
    measureFaultRow: (chosen) => measureFaultRow(s, chosen, timing, o, prefixed),
  };
  // A measurement that breaks is noted and the run goes on: the others still mean something.
  for (const step of steps) {
    const label = step.label(context);
    say(`${spec.name}: ${label} …`);
    try {
      assertRunning(s);
      Object.assign(result, await step.run(context));
    } catch (error) {
      const message = `${spec.name}: ${label} failed: ${(error as Error).message.split('\n', 1)[0] ?? ''}`;
      say(message);
      failures.push(message);
      result.notes.push(message);
    }
  }
  return result;
}

function generatorFooting(): GeneratorFooting {
  const autogroups = (() => {
    try {
      return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
    } catch {
      return false;
    }
  })();
  return {
    serverNiceness: Math.max(SERVER_NICENESS, getPriority()),
    generatorNiceness: getPriority(),
    autogroups,
    v8Flags: generatorFlags(),
  };
}
