/**
 * The benchmark plans by traits, not names: a row it has never seen (made up here, on backends
 * that exist) gets the measurements its traits call for, and the report gives it its rows,
 * with no bench file naming it. Over every combination of routing, backend and what a store
 * offers, each measurement is planned exactly where its trait says.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { profileNames, type Profile } from '../cluster/profiles.js';
import { routingStrategies, type RoutingName } from '../cluster/routing/index.js';
import { sessionBackends, type SessionStoreName } from '../src/session/backends/index.js';
import { faults } from './faults.js';
import { planMeasurements, QuickPlan } from './plan.js';
import { renderReport } from './report.js';
import { benchResult, topology } from './result-fixture.js';
import { evaluateTargets } from './targets.js';
import { traitsOf, type Row, type StoreOffers } from './traits.js';

const NAME = 'made-up-row';

function madeUp(routing: RoutingName, sessions: SessionStoreName): Profile {
  return {
    name: NAME,
    routing,
    sessions,
    shows: 'a row no bench file names',
    guarantees: {
      sharedAcrossReplicas: sessions !== 'memory',
      survivesReplicaCrash: sessions !== 'memory',
      survivesClusterRestart: false,
      natClientsSpread: routing !== 'ip-hash',
      logoutFinal: true,
    },
  };
}

const row = (profile: Profile, store: StoreOffers, kind: Row['kind'] = 'profile'): Row => ({
  name: profile.name,
  kind,
  traits: traitsOf(profile),
  store,
});

const plan = (r: Row, quick = false) => {
  const { steps, faults: chosen } = planMeasurements(r, { quick }, new QuickPlan(quick));
  return { steps: steps.map((s) => s.name), faults: chosen.map((f) => f.name) };
};

describe('a made-up row on an existing backend', () => {
  it('ip-hash over Redis: the measurements and faults its traits call for, no replication', () => {
    const r = row(madeUp('ip-hash', 'redis'), {
      fillable: 'Redis',
      samples: true,
      failsOver: false,
    });
    expect(plan(r)).toEqual({
      steps: ['latency', 'growth', 'nat', 'wire', 'login', 'memory', 'scaling', 'faults', 'kill'],
      faults: ['replica-kill', 'replica-term', 'rolling-restart', 'scale', 'store-restart'],
    });
  });

  it('route cookie over primary/backup replication: replication, links and the partition fault', () => {
    const r = row(madeUp('route-cookie', 'backup'), { samples: false, failsOver: false });
    expect(plan(r)).toEqual({
      steps: [
        'latency',
        'nat',
        'wire',
        'login',
        'memory',
        'replication',
        'links',
        'scaling',
        'faults',
        'kill',
      ],
      faults: ['replica-kill', 'replica-term', 'rolling-restart', 'scale', 'partition'],
    });
  });

  it('gets its rows in the report', () => {
    const profile = madeUp('ip-hash', 'redis');
    const result = benchResult([
      topology('naive'),
      topology(NAME, { traits: traitsOf(profile), upstream: 'ip-hash' }),
    ]);
    const report = renderReport(result, evaluateTargets(result), {
      throughput: 'chart.svg',
      faults: 'faults.svg',
      scaling: 'scaling.svg',
    });
    // The comparison, the ratings and the throughput table each have a row for it.
    expect(
      report.match(new RegExp(`^\\| \\*\\*${NAME}\\*\\*`, 'gm'))?.length,
    ).toBeGreaterThanOrEqual(2);
  });
});

describe('a quick run', () => {
  it('measures open-loop latency once per routing strategy, every row in a full run', () => {
    const rows = [
      row(madeUp('round-robin', 'redis'), { fillable: 'Redis', samples: true, failsOver: false }),
      row(madeUp('round-robin', 'memory'), { samples: false, failsOver: false }),
      row(madeUp('ip-hash', 'redis'), { fillable: 'Redis', samples: true, failsOver: false }),
    ];
    const latencyOn = (quick: boolean) => {
      const shared = new QuickPlan(quick);
      return rows.map((r) =>
        planMeasurements(r, { quick }, shared).steps.some((s) => s.name === 'latency'),
      );
    };
    expect(latencyOn(true)).toEqual([true, false, true]);
    expect(latencyOn(false)).toEqual([true, true, true]);
  });
});

describe('planning, over every kind of row', () => {
  const routings = Object.keys(routingStrategies) as RoutingName[];
  const backends = Object.keys(sessionBackends) as SessionStoreName[];
  const rows = fc.record({
    routing: fc.constantFrom(...routings),
    sessions: fc.constantFrom(...backends),
    fillable: fc.option(fc.constantFrom('Redis', 'Postgres'), { nil: undefined }),
    samples: fc.boolean(),
    failsOver: fc.boolean(),
    kind: fc.constantFrom<Row['kind']>('profile', 'peer'),
    quick: fc.boolean(),
  });

  it('plans each measurement exactly where its trait says', () => {
    fc.assert(
      fc.property(rows, (g) => {
        const r = row(
          madeUp(g.routing, g.sessions),
          {
            ...(g.fillable ? { fillable: g.fillable } : {}),
            samples: g.samples,
            failsOver: g.failsOver,
          },
          g.kind,
        );
        const { steps, faults: chosen } = plan(r, g.quick);
        const profile = g.kind === 'profile';
        const has = (m: string) => steps.includes(m as never);
        expect(has('replication')).toBe(profile && r.traits.copies !== undefined);
        expect(has('growth')).toBe(profile && g.fillable !== undefined);
        expect(has('failover')).toBe(profile && g.failsOver);
        expect(has('memory')).toBe(profile || g.samples);
        // A fresh plan: every per-row measurement of a profile runs, quick or not.
        for (const m of ['nat', 'login', 'kill']) expect(has(m)).toBe(profile);
        expect(has('latency')).toBe(true);
        // Faults: only those that apply; a quick run one of them.
        for (const f of chosen) expect(faults.find((x) => x.name === f)?.appliesTo(r)).toBe(true);
        if (g.quick) expect(chosen.length).toBeLessThanOrEqual(1);
        expect(chosen.includes('partition')).toBe(!g.quick && profile && r.traits.peerChannel);
      }),
    );
  });
});

/** bench/'s own code: what plans, measures and reports (targets and test data aside). */
const benchCode = () =>
  ['bench', 'bench/measurements', 'bench/charts']
    .flatMap((dir) =>
      readdirSync(join(PROJECT_ROOT, dir))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
        .map((f) => `${dir}/${f}`),
    )
    .filter((f) => !['bench/targets.ts', 'bench/result-fixture.ts'].includes(f));

/**
 * Literals equal to a profile's name that mean something else: a kind of store or server (the
 * same word as the profile built on it), a process kind, a tool's version.
 */
const NOT_A_PROFILE: Record<string, string[]> = {
  'bench/machine.ts': ['postgres'], // PostgreSQL's version
  'bench/probes.ts': ['postgres'], // the member kind (a CPU part)
  'bench/report.ts': ['postgres'], // the CPU part
  'bench/topology.ts': ['redis', 'postgres'], // the single store server an Express peer uses
};

describe("bench/'s own code", () => {
  it('names no profile (targets aside): it decides by traits', () => {
    const named: string[] = [];
    for (const file of benchCode()) {
      const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
      for (const name of profileNames)
        if (text.includes(`'${name}'`) && !(NOT_A_PROFILE[file] ?? []).includes(name))
          named.push(`${file}: '${name}'`);
    }
    expect(named).toEqual([]);
  });

  it('has no function in bench/run.ts over 80 lines', () => {
    const file = join(PROJECT_ROOT, 'bench/run.ts');
    const source = ts.createSourceFile(
      file,
      readFileSync(file, 'utf8'),
      ts.ScriptTarget.Latest,
      true,
    );
    const long: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const lines =
          source.getLineAndCharacterOfPosition(node.end).line -
          source.getLineAndCharacterOfPosition(node.getStart()).line +
          1;
        if (lines > 80) long.push(`${node.name?.getText() ?? '(anonymous)'}: ${lines} lines`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    expect(long).toEqual([]);
  });
});
