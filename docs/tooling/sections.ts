/**
 * The generated sections of the docs: tables made from the profile table (cluster/profiles.ts) and
 * figures made from the committed benchmark run (bench/REPORT.json, the data bench/REPORT.md is
 * rendered from). A page asks for one with a marker pair, `<!-- generated:NAME -->` …
 * `<!-- /generated -->`; `npm run docs:generate` fills it, `npm run docs:check` fails when it is
 * stale. These are the only places in the docs where a measured figure may appear.
 */
import { dirname, join, relative } from 'node:path';
import { PROJECT_ROOT } from '../../cluster/paths.js';
import {
  backendOf,
  guaranteesOf,
  profileNames,
  profileOf,
  type Guarantees,
  type NetworkPromises,
} from '../../cluster/profiles.js';
import { defined } from '../../src/common/defined.js';
import { cellText } from '../../bench/charts/faults.js';
import { faults, SCALE_STEPS } from '../../bench/faults.js';
import { routingStrategies } from '../../cluster/routing/index.js';
import { rateProfiles, recommendations, type Rating } from '../../bench/ratings.js';
import {
  complexity,
  derivedTableSection,
  failure,
  faultSection,
  performance,
  resources,
  scalability,
  sourceClaims,
  table,
  targetsSection,
} from '../../bench/report.js';
import type { BenchResult, FaultCell } from '../../bench/results.js';
import { evaluateTargets } from '../../bench/targets.js';

/** What a section is rendered from, and where it sits (its links are relative to that page). */
export interface SectionContext {
  /** The page, relative to the project root (`README.md`, `docs/profiles/redis.md`). */
  page: string;
  /** The committed benchmark run. */
  result: BenchResult;
}

/** A link from the page to a path relative to the project root. */
export function linkFrom(page: string, target: string): string {
  return relative(dirname(join(PROJECT_ROOT, page)), join(PROJECT_ROOT, target)) || '.';
}

/**
 * Each guarantee with how the guarantee suite (test/guarantees.e2e-spec.ts) checks it. A new
 * guarantee in cluster/profiles.ts does not compile until it has its line here.
 */
export const GUARANTEE_CHECKS: Record<keyof Guarantees, string> = {
  sharedAcrossReplicas: 'sessions shared across replicas (each replica asked directly)',
  survivesReplicaCrash:
    "survives a replica crash (the client's replica SIGKILLed; nginx fails over)",
  survivesStoreRestart: "survives a store restart (the store's servers restarted)",
  survivesClusterRestart:
    'survives a cluster restart (every member stopped, started again on its state)',
  natClientsSpread: 'NAT clients spread (clients behind one address over the replicas)',
  survivesScaleOut: 'survives scale-out (3 → 5 replicas while 30 clients read)',
  survivesStoreScaleOut:
    'survives a store scale-out (one more memcached node or Cluster master while 30 clients read)',
  survivesScaleIn: 'survives scale-in (5 → 2 replicas, gracefully, while 30 clients read)',
  loginLimitClusterWide: 'login limit cluster-wide (wrong passwords spread over the replicas)',
  sessionListClusterWide: 'session list cluster-wide (two devices on two replicas)',
  logoutFinal: 'logout final (a slow request in flight finishes after the logout)',
};

const mark = (value: boolean | undefined) => (value === undefined ? '–' : value ? '✓' : '✗');
const code = (s: string) => `\`${s}\``;

function profilesSection({ page }: SectionContext): string {
  return table(
    ['profile', 'nginx routing', 'sessions live in', 'what it shows'],
    profileNames.map((name) => {
      const p = profileOf(name);
      return [
        `[${code(name)}](${linkFrom(page, `docs/profiles/${name}.md`)})`,
        p.routing,
        backendOf(p).summary,
        p.shows,
      ];
    }),
  );
}

function guaranteesSection(): string {
  const keys = Object.keys(GUARANTEE_CHECKS) as (keyof Guarantees)[];
  return [
    table(
      ['property (how the suite checks it)', ...profileNames.map(code)],
      keys.map((k) => [
        GUARANTEE_CHECKS[k],
        ...profileNames.map((n) => mark(guaranteesOf(profileOf(n))[k])),
      ]),
    ),
    '✓ holds, ✗ breaks (the suite checks that it visibly breaks), – does not apply (no store servers to restart; for scaling: sessions never shared).',
  ].join('\n\n');
}

/** Where the figures come from: the run, the machine, the report. */
function provenance({ page, result }: SectionContext): string {
  const m = result.machine;
  const report = linkFrom(page, 'bench/REPORT.md');
  return (
    `From the committed full run of ${result.startedAt.slice(0, 10)} ([bench/REPORT.md](${report}); ` +
    `${m.cpus} cores, ${m.cpuModel}, Node ${m.node}): one run on one shared machine, ` +
    `so compare figures within it, not with other machines.`
  );
}

const ratingText = (r: Rating) => (r.level ? `**${r.level}** (${r.basis})` : `– (${r.basis})`);

function figuresSection(ctx: SectionContext, name: string): string {
  const t = ctx.result.topologies.find((x) => x.name === name && x.kind === 'profile');
  if (!t) {
    return `_\`${name}\` is not in the committed run yet: \`npm run bench\` measures it, and \`npm run docs:generate\` brings its figures here._`;
  }
  const rating = rateProfiles(ctx.result).find((x) => x.name === name);
  const rows: [string, string, Rating | undefined][] = [
    ['complexity', complexity(t), rating?.complexity],
    ['scalability', scalability(t), rating?.scalability],
    ['failure handling', failure(t), rating?.failureHandling],
    ['performance', performance(t), rating?.performance],
    ['resource use', resources(t), rating?.resourceUse],
  ];
  const parts = [
    provenance(ctx),
    table(
      ['', 'measured', 'rated'],
      rows.map(([label, figure, r]) => [label, figure, r ? ratingText(r) : '–']),
    ),
  ];
  const cells = faults.flatMap((f) => {
    const c = t.faults?.find((x) => x.fault === f.name);
    return c ? [[f.label, cellText(c).filter(Boolean).join('; ')]] : [];
  });
  if (cells.length) parts.push(table(['fault under the read load', 'what the clients saw'], cells));
  return parts.join('\n\n');
}

function faultMatrixSection(ctx: SectionContext): string {
  return [
    provenance(ctx),
    faultSection(ctx.result),
    `![the fault matrix](${linkFrom(ctx.page, 'bench/faults.svg')})`,
  ].join('\n\n');
}

/** The network columns of the fault matrix: the faults of the network mode. */
const NETWORK_FAULTS = faults.filter((f) => f.needsNetwork);

/** What a row's network promises say, in words. */
function promisedText(d: NetworkPromises): string {
  const p = d.promises;
  const held = [
    p.loginsKept && 'no acknowledged login lost',
    p.logoutFinal && 'no logout undone',
    p.writesKept && 'no acknowledged profile edit lost',
    p.revokeFinal && 'no revocation undone',
  ].filter(Boolean);
  const under =
    d.partitions === 'any-split' ? 'any split of its members' : 'one member cut off at a time';
  const env = Object.entries(d.env ?? {}).map(([k, v]) => `\`${k}=${v}\``);
  return `${held.join(', ')}; under ${under}${env.length ? `, with ${env.join(', ')}` : ''}`;
}

/**
 * Each row that declares what it promises under network faults (cluster/profiles.ts): the promise
 * the history check holds it to, and what the committed run measured under each network fault.
 */
function networkFaultsSection(ctx: SectionContext): string {
  const declared = profileNames.filter((name) => profileOf(name).networkFaults);
  const rows = declared.map((name) => {
    const d = defined(profileOf(name).networkFaults, `${name}'s network promises`);
    const t = ctx.result.topologies.find((x) => x.name === name && x.kind === 'profile');
    return [
      `**${name}**`,
      promisedText(d),
      ...NETWORK_FAULTS.map((fault) => {
        const cell = t?.faults?.find((c) => c.fault === fault.name);
        return cell ? cellText(cell).filter(Boolean).join('; ') : 'not in the committed run';
      }),
    ];
  });
  // One line per limit, naming every row that has it.
  const rowsOf = new Map<string, string[]>();
  for (const name of declared)
    for (const limit of profileOf(name).networkFaults?.limits ?? [])
      rowsOf.set(limit, [...(rowsOf.get(limit) ?? []), `**${name}**`]);
  const limits = [...rowsOf].map(
    ([limit, names]) => `- Not promised by ${names.join(', ')}: ${limit}.`,
  );
  const others = profileNames.filter((name) => !profileOf(name).networkFaults);
  return [
    table(['', 'promised once healed', ...NETWORK_FAULTS.map((f) => f.label)], rows),
    [
      ...limits,
      `- Not run under network faults yet: ${others.map((n) => `\`${n}\``).join(', ')}.`,
    ].join('\n'),
  ].join('\n\n');
}

/** Logged out (the share the theory is about), then sessions lost and failed requests. */
const sawWhileScaling = (c: FaultCell) =>
  `${c.loggedOut}/${c.clients} logged out, ${c.sessionsLost} sessions lost, ${c.failed} failed`;

/**
 * What each row loses when it scales, from the committed run's scaling event: the row's promise,
 * what the clients saw, what its routing moves in theory, and what the event saw happen.
 */
function scalingSection(ctx: SectionContext): string {
  const counts = [3, ...SCALE_STEPS];
  const rows = profileNames.map((name) => {
    const g = guaranteesOf(profileOf(name));
    const t = ctx.result.topologies.find((x) => x.name === name && x.kind === 'profile');
    const cell = t?.faults?.find((c) => c.fault === 'scale');
    const kept = g.sharedAcrossReplicas
      ? undefined
      : routingStrategies[profileOf(name).routing].keptThrough?.(counts);
    const store = t?.faults?.find((c) => c.fault === 'store-scale');
    return [
      code(name),
      `${mark(g.survivesScaleOut)} / ${mark(g.survivesScaleIn)}`,
      cell ? sawWhileScaling(cell) : 'not in the committed run',
      kept === undefined ? '–' : `${Math.round((1 - kept) * 100)} % logged out`,
      store ? `${sawWhileScaling(store)} (${store.note ?? ''})` : '–',
      cell?.note ?? '–',
    ];
  });
  return [
    provenance(ctx),
    table(
      [
        '',
        'promises out / in',
        `the clients saw, ${counts.join(' → ')}`,
        'routing theory',
        'the store +1 shard',
        'what happened',
      ],
      rows,
    ),
  ].join('\n\n');
}

function targetsOf(ctx: SectionContext): string {
  return [provenance(ctx), targetsSection(evaluateTargets(ctx.result)).trimEnd()].join('\n\n');
}

function ratingsSection(ctx: SectionContext): string {
  return [
    provenance(ctx),
    derivedTableSection(ctx.result),
    "**The sources' claims about scaling**, checked against the scaling curves:",
    sourceClaims(ctx.result).join('\n'),
    '**Which one should I use**, answered from the same figures:',
    recommendations(ctx.result).join('\n'),
  ].join('\n\n');
}

/** Every section a page may ask for: `figures:<profile>` for each row of the table, and the rest. */
export function renderSection(name: string, ctx: SectionContext): string | undefined {
  const [kind, arg] = name.split(':', 2);
  switch (kind) {
    case 'profiles':
      return arg === undefined ? profilesSection(ctx) : undefined;
    case 'guarantees':
      return arg === undefined ? guaranteesSection() : undefined;
    case 'fault-matrix':
      return arg === undefined ? faultMatrixSection(ctx) : undefined;
    case 'network-faults':
      return arg === undefined ? networkFaultsSection(ctx) : undefined;
    case 'targets':
      return arg === undefined ? targetsOf(ctx) : undefined;
    case 'scaling':
      return arg === undefined ? scalingSection(ctx) : undefined;
    case 'ratings':
      return arg === undefined ? ratingsSection(ctx) : undefined;
    case 'figures':
      return arg !== undefined && (profileNames as string[]).includes(arg)
        ? figuresSection(ctx, arg)
        : undefined;
    default:
      return undefined;
  }
}

/** The page of each row of the profile table. */
export const profilePage = (name: string) => `docs/profiles/${name}.md`;
