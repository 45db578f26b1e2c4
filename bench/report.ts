/**
 * bench/REPORT.md from one run's result: the comparison table (the sources' columns, filled with
 * figures), the targets, the machine and settings, then one section per measurement.
 */
import { basename } from 'node:path';
import { cellText } from './charts/faults.js';
import { scalingCurves } from './charts/scaling.js';
import { faults, measuredFaults } from './faults.js';
import { median } from './measurements/throughput.js';
import { KNEE } from './measurements/latency.js';
import type { LoadSummary } from './load.js';
import { spreadOf } from './spread.js';
import { rateProfiles, recommendations, RULES, type Rating } from './ratings.js';
import type { Traits } from './traits.js';
import type {
  BenchResult,
  CpuUse,
  GeneratorFooting,
  MemoryResult,
  RateLatency,
  ScalingPoint,
  TopologyResult,
} from './results.js';
import { fmt, int, lagMs, storeCores, verdict, type TargetResult } from './targets.js';

const pct = (share: number) => `${Math.round(share * 100)} %`;
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MiB`;
const ms = (v: number) => `${fmt(v, 1)} ms`;
/** A `|` inside a cell would end it. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** "1.3" for a ratio, "∞ (a replica served nothing)" when one did. */
export const skew = (s: number | null | undefined): string =>
  s === undefined ? '–' : s === null ? '∞ (a replica served nothing)' : fmt(s, 2);

export function complexity(t: TopologyResult): string {
  const { processes, stores } = t.complexity;
  const code = t.complexity.sessionCode.map((c) => `${basename(c.file)} ${c.lines} lines`);
  return `${processes.length} processes${stores.length ? ` (+ ${stores.join(', ')})` : ''}; ${code.join(', ')}`;
}

/** The store's used-memory growth when sessions were created for it, else its sample. */
function storeBytes(m: MemoryResult): string | undefined {
  const store = m.store;
  if (!store) return undefined;
  if (Number.isFinite(store.usedMemoryPerSession)) {
    return `${int(store.usedMemoryPerSession)} B ${store.label} per session (used-memory growth over ${int(m.sessionsCreated)} logins)`;
  }
  const sample = store.sample;
  return sample && `${int(sample.bytes)} B ${store.label} per session (sample)`;
}

/** Median over the whoami runs; an idle replica (null) counts as an infinite skew. */
export function medianSkew(t: TopologyResult): number | null | undefined {
  const values = t.throughput.samples.map((s) => s.load.skew ?? Infinity);
  if (!values.length) return undefined;
  const m = median(values);
  return Number.isFinite(m) ? m : null;
}

export function scalability(t: TopologyResult): string {
  const auth =
    t.kind === 'profile'
      ? `${pct(median(t.throughput.samples.map((s) => s.load.authenticatedShare)))} of reads authenticated; `
      : '';
  return `${auth}skew ${skew(medianSkew(t))} distinct clients, ${skew(t.nat?.skew)} behind one NAT`;
}

export function failure(t: TopologyResult): string {
  const k = t.kill;
  if (!k) return '–';
  return `${k.replica} killed: ${k.failed} failed reads, ${k.loggedOut} of ${k.clients} clients logged out`;
}

export function performance(t: TopologyResult): string {
  const login = t.login ? `; login p50 ${ms(t.login.sequential.p50)}` : '';
  return `${int(t.throughput.rps)} req/s, p50 ${ms(t.throughput.p50)}, p99 ${ms(t.throughput.p99)}${login}`;
}

export function resources(t: TopologyResult): string {
  const parts: string[] = [`${int(t.throughput.replicaCpuMicrosPerRead)} µs replica CPU per read`];
  const commands = t.throughput.storeCommandsPerRead;
  if (commands) parts.push(`${fmt(commands.total)} ${commands.label} commands per read`);
  const inStore = t.memory && storeBytes(t.memory);
  if (inStore) parts.push(inStore);
  if (t.memory?.replicas) {
    parts.push(`${mb(t.memory.replicas.heapGrowthPer10k)} replica heap per 10k sessions`);
  }
  if (t.kind === 'profile' || t.throughput.postgresStatementsPerRead) {
    parts.push(
      `${fmt(t.throughput.postgresStatementsPerRead ?? NaN)} Postgres statements per read`,
    );
  }
  if (t.wire) parts.push(`a ${int(t.wire.cookieBytes)}-byte cookie with every request`);
  return parts.join('; ');
}

export function targetsSection(targets: TargetResult[]): string {
  const rows = targets.map((t) => [t.id, t.title, t.threshold, t.figure, `**${verdict(t)}**`]);
  const notes = targets.flatMap((t) =>
    t.reason ? [`- **${t.id} ${verdict(t)}**: ${t.reason}`] : [],
  );
  return [table(['', 'target', 'threshold', 'measured', ''], rows), '', ...notes].join('\n');
}

function machineSection(r: BenchResult): string {
  const m = r.machine;
  const s = r.settings;
  const env = Object.entries(s.appEnv).map(([k, v]) => `${k}=${v}`);
  return table(
    ['', ''],
    [
      ['machine', `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}`],
      ['versions', `Node ${m.node}, nginx ${m.nginx}, Redis ${m.redis}, PostgreSQL ${m.postgres}`],
      [
        'topology',
        '3 replicas behind one nginx (2 workers, the project’s template), Postgres and the session store’s servers on the same machine',
      ],
      [
        'load',
        `${s.clients} virtual clients, each its own cookie jar, keep-alive connection and source address 127.N.M.1; closed loop (next request when the answer is in)${!s.commonRate ? '' : r.topologies.some((t) => t.sustained) ? `; then open loop at ${int(s.commonRate)} req/s and at 50 % and 80 % of the highest rate each row keeps up with` : `; then open loop at 50 % and 80 % of each row's capacity and at ${int(s.commonRate)} req/s`}`,
      ],
      [
        'whoami runs',
        `${s.warmupUntilSteady ? `at least ${s.firstWarmupSeconds} s warm-up per topology, until its throughput stopped rising` : `${s.firstWarmupSeconds} s warm-up per topology`}, then ${s.rounds} round(s) × (${s.warmupSeconds} s warm-up + ${s.durationSeconds} s measured), ${s.oneAtATime ? 'one topology at a time (started, measured, stopped)' : 'topologies interleaved'}; medians`,
      ],
      [
        'sessions',
        `${int(s.memorySessions)} created for memory per session; ${int(s.growthSessions)} in the store for cost growth`,
      ],
      ...(s.conditions
        ? [
            [
              'conditions',
              `peer channel thread priority ${s.conditions.threadPriority}; Postgres at ${s.conditions.postgres}; sessions expire after ${fmt(s.conditions.sessionIdleTimeoutSeconds / 3600, 1)} h idle (longer than the run); Node ${m.node}` +
                generatorConditions(s.conditions.generator),
            ],
          ]
        : []),
      [
        'app settings',
        env.length
          ? env.join(' ')
          : 'the runner’s defaults (production, LOG_LEVEL log, argon2id 19 MiB)',
      ],
      [
        'run',
        `${r.startedAt}, ${fmt(r.seconds / 60, 1)} min${s.quick ? ', quick mode: figures are rough' : ''}`,
      ],
    ],
  );
}

/**
 * Cores per part; "other" is whatever else ran on the machine meanwhile (a shared machine's
 * noise, and kernel time spent on loopback traffic that no process is charged for).
 */
export function coreUse(cpu: CpuUse): string {
  const part = (p: 'nginx' | 'replicas' | 'postgres' | 'load') => cpu[p] ?? 0;
  const ours = part('nginx') + part('replicas') + part('postgres') + part('load') + storeCores(cpu);
  const other = cpu.machine === undefined ? NaN : Math.max(0, cpu.machine - ours);
  const stores = Object.entries(cpu.stores ?? {}).map(([name, cores]) => `${name} ${fmt(cores)}`);
  return [
    fmt(part('nginx')),
    fmt(part('replicas')),
    stores.join(', ') || '–',
    fmt(part('load')),
    fmt(other),
  ].join(' / ');
}

function throughputSection(r: BenchResult): string {
  const rows = r.topologies.map((t) => {
    const last = t.throughput.samples.at(-1)?.load;
    const shares = last ? Object.values(last.shares).map(pct).join(' / ') : '–';
    const failed = t.throughput.samples.reduce((n, s) => n + s.load.errors + s.load.non2xx, 0);
    const runs = t.throughput.samples.map((s) => s.load);
    const spread = spreadOf(runs.map((l) => l.rps));
    const range = (pick: (l: LoadSummary) => number) =>
      runs.length > 1
        ? ` (${fmt(Math.min(...runs.map(pick)), 1)}–${fmt(Math.max(...runs.map(pick)), 1)})`
        : '';
    return [
      t.name,
      `${int(t.throughput.rps)}${Number.isFinite(spread) ? ` ± ${pct(spread / 2)}` : ''}`,
      runs.map((l) => int(l.rps)).join(', '),
      `${ms(t.throughput.p50)}${range((l) => l.latency.p50)}`,
      `${ms(t.throughput.p99)}${range((l) => l.latency.p99)}`,
      last ? ms(last.latency.max) : '–',
      String(failed),
      shares,
      coreUse(t.throughput.cpu),
    ];
  });
  return table(
    [
      '',
      'req/s (median ± half the range)',
      'req/s per run',
      'p50 (median, range)',
      'p99 (median, range)',
      'max',
      'failed',
      'share app-1/2/3',
      'cores: nginx / replicas / store / load generator / other (kernel, other processes)',
    ],
    rows,
  );
}

/** What the 50 % and 80 % are of: runs before the search for a sustained rate used capacity. */
function latencyBasis(r: BenchResult): string {
  if (!r.topologies.some((t) => t.sustained))
    return "At 50 % and 80 % of the row's own capacity, and at one rate for every row.";
  return (
    'At one rate for every row, then at 50 % and 80 % of the highest rate the row keeps up with ' +
    '("sustained"): found by halving the range between that rate and its capacity, each probe ' +
    `kept when its queue did not grow and its median wait stayed within ${KNEE} times the one at ` +
    `the common rate. The closed loop’s capacity is no such rate: ${r.settings.clients} clients always waiting ` +
    'let every process take many requests per wake-up, and at 80 % of it some rows fell behind ' +
    'for good.'
  );
}

/** Open-loop latency at fixed rates: p50 / p99 / p99.9, or why a run's figures are not the row's. */
export function latencySection(r: BenchResult): string {
  const measured = r.topologies.filter((t) => t.latency?.length);
  if (!measured.length) return 'Not measured in this run (`--only latency`).';
  const at = (x: RateLatency | undefined) => {
    if (!x) return '–';
    if (x.behind) return `discarded: the load generator ran ${ms(x.generatorLagP99)} behind`;
    const failed = x.failed + x.unanswered;
    return `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.p999)}${failed ? ` (${int(failed)} failed)` : ''}`;
  };
  const find = (t: TopologyResult, label: string) => t.latency?.find((x) => x.label === label);
  const rate = (t: TopologyResult, label: string) => find(t, label)?.ratePerSecond;
  const sustained = measured.some((t) => t.sustained);
  return table(
    [
      '',
      'capacity, req/s',
      ...(sustained ? ['sustained, req/s'] : []),
      'at 50 %: p50 / p99 / p99.9',
      'at 80 %',
      `at ${int(r.settings.commonRate ?? NaN)} req/s (every row)`,
      'p99 timed from the send, at 80 %',
      'generator lag p99, at 80 %',
    ],
    measured.map((t) => {
      const eighty = find(t, '80 %');
      return [
        t.name,
        int(t.throughput.rps),
        ...(sustained ? [t.sustained ? int(t.sustained.ratePerSecond) : '–'] : []),
        `${at(find(t, '50 %'))} (${int(rate(t, '50 %') ?? NaN)}/s)`,
        `${at(eighty)} (${int(rate(t, '80 %') ?? NaN)}/s)`,
        at(find(t, 'common')),
        eighty ? ms(eighty.serviceP99) : '–',
        eighty ? ms(eighty.generatorLagP99) : '–',
      ];
    }),
  );
}

function perReadSection(r: BenchResult): string {
  const rows = r.topologies.map((t) => {
    const c = t.throughput.storeCommandsPerRead;
    const byName = Object.entries(c?.byName ?? {}).map(([n, v]) => `${n} ${fmt(v, 3)}`);
    return [
      t.name,
      c ? `${c.label}: ${fmt(c.total, 3)} (${byName.join(', ')})` : '– (no store to observe)',
      fmt(t.throughput.postgresStatementsPerRead ?? NaN, 3),
      int(t.throughput.replicaCpuMicrosPerRead),
      t.wire
        ? `${int(t.wire.requestBytes)} (cookie ${int(t.wire.cookieBytes)}) / ${int(t.wire.responseBytes)}`
        : '–',
    ];
  });
  return table(
    [
      '',
      'store commands per read',
      'Postgres statements per read',
      'replica CPU µs per read',
      'bytes per read: request (cookie) / answer',
    ],
    rows,
  );
}

function skewSection(r: BenchResult): string {
  const rows = r.topologies.map((t) => {
    const distinct = t.throughput.samples.at(-1)?.load;
    return [
      t.name,
      t.upstream,
      distinct ? Object.values(distinct.shares).map(pct).join(' / ') : '–',
      skew(medianSkew(t)),
      t.nat ? Object.values(t.nat.shares).map(pct).join(' / ') : '–',
      skew(t.nat?.skew),
      t.nat?.clientsPerReplica
        ? `${Object.values(t.nat.clientsPerReplica).join(' / ')} (${skew(t.nat.clientSkew)})`
        : '–',
      t.nat ? `${int(t.nat.rps)} req/s, ${pct(t.nat.authenticatedShare)} authenticated` : '–',
    ];
  });
  return table(
    [
      '',
      'upstream',
      'distinct: shares (last run)',
      'skew (median)',
      'one NAT: shares',
      'skew',
      'one NAT: clients pinned per replica (skew)',
      'one NAT: load',
    ],
    rows,
  );
}

function memorySection(r: BenchResult): string {
  const rows: string[][] = [];
  for (const t of r.topologies) {
    const m = t.memory;
    if (m?.store) {
      const { sample } = m.store;
      rows.push([
        t.name,
        storeBytes(m) ?? '–',
        sample
          ? `${int(sample.bytes)} B each (${int(sample.valueBytes)} B value; sample of ${sample.count} stored sessions)`
          : '–',
      ]);
    }
    if (m?.replicas) {
      const heap = m.replicas;
      rows.push([
        t.name,
        `replicas: ${mb(heap.heapGrowthPer10k)} heap per 10k sessions, ${int(heap.heapGrowthPer10k / 10_000)} B per session ` +
          `(heapUsed after a full GC, over ${int(m.sessionsCreated)} logins)`,
        'heap: ' +
          Object.entries(heap.heapAfter)
            .map(([n, after]) => `${n} ${mb(heap.heapBefore[n] ?? 0)} → ${mb(after)}`)
            .join(', '),
      ]);
    }
    // Only where the app wrote to it: the profiles that keep their session list in Postgres.
    if (m?.postgresIndexBytesPerSession) {
      rows.push([
        t.name,
        `Postgres: ${int(m.postgresIndexBytesPerSession)} B of disk per session`,
        'the per-user session index (user_sessions and its indexes)',
      ]);
    }
  }
  return table(['', 'per session', 'detail'], rows);
}

function killSection(r: BenchResult): string {
  const rows = r.topologies.flatMap((t) => {
    const k = t.kill;
    if (!k) return [];
    return [
      [
        t.name,
        `${k.replica} at ${fmt(k.killedAtSeconds, 1)} s of ${k.seconds} s`,
        `${k.failed} of ${int(k.requests)}`,
        `${k.loggedOut} of ${k.clients}`,
        `${pct(k.authenticatedBefore)} → ${pct(k.authenticatedAfter)}`,
      ],
    ];
  });
  return table(
    ['', 'SIGKILL', 'failed reads', 'clients logged out', 'authenticated reads before → after'],
    rows,
  );
}

function failoverSection(r: BenchResult): string {
  const rows = r.topologies.flatMap((t) => {
    const runs = t.failover;
    if (!runs) return [];
    return (['off', 'on'] as const).flatMap((durable) => {
      const f = runs[durable];
      if (!f) return [];
      const login = durable === 'on' ? runs.loginDurable : t.login;
      return [
        [
          t.name,
          durable,
          `${f.killed} (replicas ${f.lagMs} ms behind)`,
          ms(f.firstWriteAfterMs),
          ms(f.lastFailureAfterMs),
          `${f.answered503} × 503, ${f.otherFailures} other, ${f.hangs} hangs of ${int(f.requestsAfter)}`,
          `${f.loginsLost} of ${f.loginsAcknowledged}`,
          login ? ms(login.sequential.p50) : '–',
        ],
      ];
    });
  });
  return table(
    [
      '',
      'durable logins',
      'SIGKILL',
      'first write after',
      'last failure after',
      'requests after the kill',
      'logins lost',
      'login p50',
    ],
    rows,
  );
}

function loginSection(r: BenchResult): string {
  const rows = r.topologies.flatMap((t) => {
    const l = t.login;
    if (!l) return [];
    return [
      [
        t.name,
        l.argon2,
        `${ms(l.sequential.p50)} / ${ms(l.sequential.p99)} (${l.sequential.count} logins)`,
        `${fmt(l.concurrent.perSecond, 1)} logins/s, p50 ${ms(l.concurrent.p50)}, p99 ${ms(l.concurrent.p99)} (${l.concurrent.clients} clients, ${l.concurrent.seconds} s)`,
      ],
    ];
  });
  return table(['', 'password hash', 'one at a time: p50 / p99', 'several at once'], rows);
}

function growthSection(r: BenchResult): string {
  const rows = r.topologies.flatMap((t) => {
    const g = t.growth;
    if (!g) return [];
    const list = (v: number[]) => v.map((x) => fmt(x)).join(', ');
    return [
      [t.name, `${int(g.small)} in ${g.store}`, list(g.p50Small), ms(median(g.p50Small))],
      [t.name, `${int(g.large)} in ${g.store}`, list(g.p50Large), ms(median(g.p50Large))],
    ];
  });
  if (!rows.length) return '_Not measured in this run._';
  return table(['', 'sessions', 'whoami p50 per run (ms)', 'median'], rows);
}

function replicationSection(r: BenchResult): string {
  const rows = r.topologies.flatMap((t) => {
    const x = t.replication;
    if (!x) return [];
    const stale = (v: { stale: number; writes: number; rate: number }) =>
      `${v.stale} of ${v.writes} (${pct(v.rate)})`;
    return [
      [
        t.name,
        `p50 ${lagMs(x.lagP50)}, p99 ${lagMs(x.lagP99)} (${int(x.writes)} writes)`,
        `${fmt(x.messagesPerRead, 3)} (+ ${fmt(x.accessBatchesPerSecond, 1)} batches/s)`,
        fmt(x.messagesPerPeerPerWrite, 2),
        `${int(x.bytesPerWrite)} B`,
        stale(x.staleReads.async),
        x.staleReads.sync
          ? `${stale(x.staleReads.sync)}, ${x.syncTimeouts ?? 0} ack timeouts`
          : 'not in this run',
      ],
    ];
  });
  if (!rows.length) return '_Not measured in this run._';
  const lagRows = r.topologies.flatMap((t) => {
    const x = t.replication;
    if (!x || x.handlingP99 === undefined) return [];
    const standard = [
      t.name,
      `standard: ${int(x.readers ?? NaN)} clients back to back (whoami p50 ${ms(x.readLatency?.p50 ?? NaN)}, p99 ${ms(x.readLatency?.p99 ?? NaN)})`,
      int(x.readsPerSecond ?? NaN),
      `p50 ${lagMs(x.lagP50)}, p99 ${lagMs(x.lagP99)}`,
      lagMs(x.appliedP99 ?? NaN),
      lagMs(x.loopDelayP99 ?? NaN),
    ];
    const bounded = (x.bounded ?? []).map((b) => [
      t.name,
      `bounded to ${pct(b.share)} of ${x.sustainedRate ? 'the rate it keeps up with' : 'the standard load'}`,
      int(b.readsPerSecond),
      `p50 ${lagMs(b.lagP50)}, p99 ${lagMs(b.lagP99)}`,
      lagMs(b.appliedP99 ?? NaN),
      lagMs(b.loopDelayP99),
    ]);
    return [standard, ...bounded];
  });
  const lagTable = lagRows.length
    ? `The lag runs until the write is visible on a peer: its channel thread has checked and queued the frame, and every read there takes that queue first. The peer's main thread merges it at its next read, or when its event loop gets to it (how late that loop ran a timer in the same window is the last column); then the same writes with the reads bounded:\n\n${table(
        ['', 'whoami load', 'reads/s', 'lag (visible)', 'merged p99', 'peers’ loop delay p99'],
        lagRows,
      )}`
    : '';
  const linkRows = r.topologies.flatMap((t) =>
    (t.links ?? []).map((l) => [
      t.name,
      l.link,
      `p50 ${lagMs(l.lagP50)}, p99 ${lagMs(l.lagP99)} (${int(l.writes)} writes)`,
      `${fmt(l.replicaCpuMsPerWrite, 2)} ms`,
    ]),
  );
  const linkTable = linkRows.length
    ? `Over a real network (the runner's network mode: every member in a namespace of its own, each packet between two members delayed), profile edits only, on one replica, no reads:\n\n${table(
        ['', 'link', 'lag (visible)', 'replica CPU per write'],
        linkRows,
      )}`
    : '';
  return [
    table(
      [
        '',
        'lag under load',
        'peer messages per read',
        'per peer per write',
        'bytes per write',
        'stale reads, async',
        'stale reads, sync',
      ],
      rows,
    ),
    ...(lagTable ? [lagTable] : []),
    ...(linkTable ? [linkTable] : []),
  ].join('\n\n');
}

export function faultSection(r: BenchResult): string {
  const columns = measuredFaults(r.topologies);
  const rows = r.topologies
    .filter((t) => t.kind === 'profile' && t.faults)
    .map((t) => [
      t.name,
      ...columns.map((f) => {
        const c = t.faults?.find((x) => x.fault === f.name);
        if (!c) return r.settings.quick ? 'not in this run' : 'n/a';
        return cellText(c).filter(Boolean).join('; ');
      }),
    ]);
  if (!rows.length) return '_Not measured in this run._';
  const notes = r.topologies.flatMap((t) =>
    (t.faults ?? [])
      .filter((c) => c.note || c.retried)
      .map(
        (c) =>
          `- ${t.name}, ${faults.find((f) => f.name === c.fault)?.label ?? c.fault}: ${[
            c.note,
            c.retried &&
              `${int(c.retried)} requests sent again once after nginx closed their kept-alive connection (a reload does), as browsers do`,
          ]
            .filter(Boolean)
            .join('; ')}.`,
      ),
  );
  return [
    table(['', ...columns.map((f) => f.label)], rows),
    columns.map((f) => `- **${f.label}**: ${f.what}.`).join('\n'),
    ...(notes.length ? [`What the faults saw happen:\n\n${notes.join('\n')}`] : []),
  ].join('\n\n');
}

/**
 * CPU per write above the in-memory backend's at the same cluster size: on a small machine every
 * profile's cost per operation rises with the number of processes sharing its cores, so what a
 * backend adds (replication, a store round trip) shows against the one that adds nothing.
 */
export function aboveMemory(r: BenchResult, p: ScalingPoint): number | undefined {
  const baseline = r.topologies
    .find((t) => inReplicaMemory(t.traits) && t.replicaScaling?.length)
    ?.replicaScaling?.find((b) => b.replicas === p.replicas);
  return baseline && p.replicaCpuMsPerWrite - baseline.replicaCpuMsPerWrite;
}

function scalingSection(r: BenchResult): string {
  const rows = scalingCurves(r).flatMap((c) =>
    c.points.map((p) => [
      c.name,
      String(p.replicas),
      `${int(p.replicaCpuMicrosPerRead)} µs`,
      `${fmt(p.replicaCpuMsPerWrite, 2)} ms`,
      ((above) => (above === undefined ? '–' : `${above >= 0 ? '+' : ''}${fmt(above, 2)} ms`))(
        aboveMemory(r, p),
      ),
      mb(p.heapPer10kPerReplica),
      p.peerMessagesPerWrite === undefined ? '–' : fmt(p.peerMessagesPerWrite, 2),
      p.peerBytesPerWrite === undefined ? '–' : `${int(p.peerBytesPerWrite)} B`,
      p.peerWorkMicrosPerWrite === undefined ? '–' : `${int(p.peerWorkMicrosPerWrite)} µs`,
    ]),
  );
  if (!rows.length) return '_Not measured in this run._';
  return table(
    [
      '',
      'replicas',
      'CPU per read',
      'CPU per write',
      'of it above the memory backend’s',
      'heap per replica per 10k sessions',
      'peer messages per write',
      'peer bytes per write',
      'peer-channel CPU per write',
    ],
    rows,
  );
}

/** Sessions in each replica's own memory alone: no store server, no copies elsewhere. */
const inReplicaMemory = (t: Traits) =>
  t.storeServices.length === 0 && !t.peerChannel && !t.inCookie;

/**
 * The rows the sources' claims are about, by their traits: every replica holding every session
 * (DeltaManager), a primary and a backup (BackupManager), a separate store (round-robin over one
 * store server, nothing between the replicas). The first such row with a scaling curve.
 */
const CLAIMED = {
  allToAll: {
    is: (t: Traits) => t.copies === 'every-replica',
    what: 'with every session on every replica',
  },
  primaryBackup: {
    is: (t: Traits) => t.copies === 'primary-backup',
    what: 'with a primary and a backup per session',
  },
  separateStore: {
    is: (t: Traits) =>
      t.storeServices.length === 1 && !t.peerChannel && !t.inCookie && t.routing === 'round-robin',
    what: 'with a separate store server',
  },
};

/** What the scaling figures say about each claim of the sources, one sentence each. */
export function sourceClaims(r: BenchResult): string[] {
  const rowOf = (kind: keyof typeof CLAIMED) => {
    const rows = r.topologies.filter((t) => t.kind === 'profile' && CLAIMED[kind].is(t.traits));
    return (rows.find((t) => t.replicaScaling?.length) ?? rows[0])?.name;
  };
  const curve = (name: string) => {
    const points = [...(r.topologies.find((t) => t.name === name)?.replicaScaling ?? [])].sort(
      (a, b) => a.replicas - b.replicas,
    );
    const [a, ...larger] = points;
    const b = larger.at(-1);
    if (!a || !b) return undefined; // fewer than two sizes
    const [workFrom, workTo] = [a.peerWorkMicrosPerWrite, b.peerWorkMicrosPerWrite];
    const work =
      workFrom && workTo !== undefined
        ? { from: workFrom, to: workTo, ratio: workTo / workFrom }
        : undefined;
    return {
      from: a.replicas,
      to: b.replicas,
      write: b.replicaCpuMsPerWrite / a.replicaCpuMsPerWrite,
      heap: b.heapPer10kPerReplica / a.heapPer10kPerReplica,
      work,
      // The whole replica's CPU per write (writes at a fixed rate, so more processes on the cores
      // do not make each write dearer), at its highest against the smallest cluster: "flat" must
      // hold at every size, not just the last.
      growth: Math.max(...points.map((p) => p.replicaCpuMsPerWrite)) / a.replicaCpuMsPerWrite,
      a,
      b,
    };
  };
  const say = (
    claim: string,
    kind: keyof typeof CLAIMED,
    holds: (c: NonNullable<ReturnType<typeof curve>>) => boolean,
  ) => {
    const name = rowOf(kind);
    if (!name) return `- “${claim}” — no row ${CLAIMED[kind].what} in this run.`;
    const c = curve(name);
    if (!c) return `- “${claim}” — \`${name}\`: not measured in this run.`;
    const work =
      c.work === undefined
        ? ''
        : `, peer-channel CPU per write ${int(c.work.from)} → ${int(c.work.to)} µs (×${fmt(c.work.ratio, 2)})`;
    const figures = `CPU per write ${fmt(c.a.replicaCpuMsPerWrite, 2)} → ${fmt(c.b.replicaCpuMsPerWrite, 2)} ms (×${fmt(c.write, 2)})${work} and heap per replica ×${fmt(c.heap, 2)} from ${c.from} to ${c.to} replicas`;
    return `- “${claim}” — \`${name}\`: ${figures}: ${holds(c) ? '**the figures agree**' : '**the figures do not show it**'}.`;
  };
  return [
    say(
      'all-to-all replication is not for more than ~4 servers',
      'allToAll',
      (c) => c.growth > 1.5,
    ),
    say('primary/backup is fine past 4 servers', 'primaryBackup', (c) => c.growth <= 1.5),
    say('a separate store scales best', 'separateStore', (c) => {
      const other = rowOf('allToAll');
      const allToAll = other === undefined ? undefined : curve(other);
      return c.write <= 1.5 && (!allToAll || c.write < allToAll.write);
    }),
  ];
}

function ratingCell(x: Rating): string {
  return x.level ? `**${x.level}** (${x.basis})` : `– (${x.basis})`;
}

export function derivedTableSection(r: BenchResult): string {
  const ratings = rateProfiles(r);
  return [
    table(
      ['', 'complexity', 'scalability', 'failure handling', 'performance', 'resource use'],
      ratings.map((p) => [
        `**${p.name}**`,
        ratingCell(p.complexity),
        ratingCell(p.scalability),
        ratingCell(p.failureHandling),
        ratingCell(p.performance),
        ratingCell(p.resourceUse),
      ]),
    ),
    'How a figure becomes a word:',
    Object.entries(RULES)
      .map(([column, rule]) => `- ${column}: ${rule}.`)
      .join('\n'),
  ].join('\n\n');
}

/** The charts' file names, relative to the report. */
export interface ChartFiles {
  throughput: string;
  faults: string;
  scaling: string;
}

export function renderReport(r: BenchResult, targets: TargetResult[], charts: ChartFiles): string {
  const comparison = table(
    ['', 'complexity', 'scalability', 'failure handling', 'performance', 'resource use'],
    r.topologies.map((t) => [
      `**${t.name}**${t.kind === 'peer' ? ' (peer)' : ''}`,
      complexity(t),
      scalability(t),
      failure(t),
      performance(t),
      resources(t),
    ]),
  );
  const notes = r.topologies.flatMap((t) => t.notes.map((n) => `- ${n}`));
  return `# Benchmark report

Written by \`npm run bench\` (bench/cli.ts) from the run of ${r.startedAt}; its figures are in
\`bench/REPORT.json\` (\`npm run bench -- --render bench/REPORT.json\` writes this file and the charts
again, byte for byte). How to read it: [docs/benchmark.md](../docs/benchmark.md); what it means for
choosing a profile: [docs/choosing.md](../docs/choosing.md). All figures come from one run on one
machine: compare them with each other, not with other machines.

## Comparison

The columns the sources compare the approaches by, filled with what this run measured.

${comparison}

What each row is:

${r.topologies.map((t) => `- **${t.name}** — ${t.what} (nginx upstream: ${t.upstream}, sessions: ${t.store}).`).join('\n')}

![whoami throughput and p99 latency per profile and peer](${charts.throughput})

## The sources' table, re-derived from the figures

Source 004 rates the approaches low / medium / high in words. Here each word comes from this
run's figures (the rule for each column is under the table).

${derivedTableSection(r)}

## Which one should I use

${recommendations(r).join('\n')}

## Targets

${targetsSection(targets)}

## Machine and settings

${machineSection(r)}

## 1. Authenticated whoami through nginx

Flat out: the clients send back to back (a closed loop), so the figures are the row's capacity
(req/s, the median of the runs) and the latency of a saturated cluster, queueing included.

${throughputSection(r)}

### Latency as users feel it: fixed rates, open loop

Below capacity, as a service runs: the clients together send at a fixed rate, each request on a
schedule whatever the ones before it did, and its latency counts from when it was due (wrk2's
correction for coordinated omission: a stall delays every request due during it, as it does to
users). "Timed from the send" is what a closed loop would have said of the same requests. The
generator shares the machine: a run in which it fell behind its own schedule (lag p99 over
10 ms) is run once more, and discarded if it falls behind again.

${latencyBasis(r)}

${latencySection(r)}

## 2. Store round trips per authenticated read

Store: every command its servers ran in the measured window, by command name (the cluster's store
observer, e.g. Redis' \`INFO commandstats\` delta with the observer's own reads taken off) ÷ the
reads answered in it. Postgres: \`pg_stat_statements\` calls by the app's role in
the same window (per role, so the probe's own queries don't count, and per statement, which
\`pg_stat_database\`'s transaction counters would not give).

${perReadSection(r)}

## 3. Load skew: busiest ÷ idlest replica

${skewSection(r)}

## 4. Memory per session

${memorySection(r)}

## 5. A replica killed under load

${killSection(r)}

"Logged out" is a client with no authenticated answer at all after the kill.

## 6. Login

${loginSection(r)}

## 7. Cost growth: whoami p50 with 1,000 vs many sessions in the store

${growthSection(r)}

## 8. Replication between replicas

Lag: from a write's version on its replica to its application on a peer, under the whoami load
with a trickle of profile edits (the replicas count it). Stale reads: a write on one replica read
back at once on another.

${replicationSection(r)}

## 9. The store's primary killed under load (redis-ha, redis-cluster)

${failoverSection(r)}

The primary (redis-ha) or the master of slot 0 (redis-cluster) is SIGKILLed while every client
reads and a few log in again and again; its replica was cut off for the last moments before (paused,
its link dropped), as a lagging replica would be. "First write": the first login answered 200 after
the kill; "last failure": when every request succeeded again (under Redis Cluster the other masters
take writes throughout). Logins lost: acknowledged (200) logins whose session was gone afterwards.
With durable logins on the killed primary is restarted once its replica took over (it rejoins as a
replica): with one replica, a second copy of a new login needs it.

## 10. The fault matrix

Each fault done to each profile while every client reads back to back; the load goes on until the
fault is over and no request has failed for a while. Per cell: sessions lost for good (no replica
knows them once everything is back), clients logged out for a while (authenticated in every answer
before the fault, then not; \`naive\`'s clients, logged out two times in three anyway, never
count), failed requests, and the time from the fault to the last failed request.

![the fault matrix as a heatmap](${charts.faults})

${faultSection(r)}

## 11. Scaling with replicas

A cluster per size, for each profile: what a read, a write and a session cost as replicas are
added. On ${r.machine.cpus} cores throughput cannot grow with replicas, so cost per operation is
what is compared.

![cost per operation against the number of replicas](${charts.scaling})

${scalingSection(r)}

What the figures say about the sources' claims:

${sourceClaims(r).join('\n')}
${notes.length ? `\n## Notes\n\n${notes.join('\n')}\n` : ''}`;
}

/** Where the load generator stood among the servers it measured (results since issue 31). */
function generatorConditions(g: GeneratorFooting | undefined) {
  if (!g) return '';
  const flags = g.v8Flags.length ? g.v8Flags.map((f) => `\`${f}\``).join(' ') : 'V8’s defaults';
  return (
    `; every server at niceness ${g.serverNiceness}${g.autogroups ? ' (and its autogroup)' : ''}, ` +
    `the load generator at ${g.generatorNiceness} with ${flags} ` +
    '(it stands for clients on other machines: it must not wait for a core, nor pause long to collect garbage)'
  );
}
