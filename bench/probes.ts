/**
 * Read-only looks into the running topology: the session store's counters (through the cluster's
 * store observers), Postgres' statement counters, and each process' CPU time and resident memory
 * from /proc.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { descendantsOf } from '../cluster/index.js';
import type { Cluster, MemberStatus } from '../cluster/cluster.js';
import type { StoreObserver } from '../cluster/services/index.js';
import { defined } from '../src/common/defined.js';
import type { CpuUse } from './results.js';

/** What the observers are called together, e.g. "Redis" (several servers of one kind: once). */
export const storeLabel = (stores: readonly StoreObserver[]): string =>
  [...new Set(stores.map((o) => o.label))].join(' + ');

/** Calls per command name so far, summed over the store's observers, e.g. { get: 120 }. */
export async function storeCommandCounts(
  stores: readonly StoreObserver[],
): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const counts of await Promise.all(stores.map((o) => o.commandCounts()))) {
    for (const [name, calls] of counts) total.set(name, (total.get(name) ?? 0) + calls);
  }
  return total;
}

/** Commands between two readings, per name; names with none left out. */
export function commandDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after) {
    const n = calls - (before.get(name) ?? 0);
    if (n > 0) delta[name] = n;
  }
  return delta;
}

/**
 * The app's Postgres role's statement count from pg_stat_statements (needs the library preloaded:
 * see topology.ts). Per role, so our own probing queries (as the superuser) are not counted.
 */
export class PostgresProbe {
  private constructor(private readonly client: pg.Client) {}

  static async connect(superuserUrl: string): Promise<PostgresProbe> {
    const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return new PostgresProbe(client);
  }

  async statements(role = 'app'): Promise<number> {
    const { rows } = await this.client.query<{ calls: string }>(
      `SELECT coalesce(sum(s.calls), 0) AS calls FROM pg_stat_statements s
         JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1`,
      [role],
    );
    return Number(defined(rows[0], 'the sum of calls').calls);
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

// Linux reports CPU time in clock ticks; 100 per second on every mainstream kernel build.
const TICKS_PER_SECOND = 100;

async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000; // utime + stime
  } catch {
    return 0; // exited meanwhile
  }
}

/** Resident memory of one process, in bytes (0 when it is gone). */
export async function processRss(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The parts every topology has; the store's servers are counted apart, by plugin name. */
type CorePart = Exclude<keyof CpuUse, 'stores'>;

/** Busy and stolen CPU time of the whole machine so far (ms), from the first line of /proc/stat. */
async function machineCpuMs(): Promise<{ busy: number; steal: number }> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  const toMs = (ticks: number) => (ticks / TICKS_PER_SECOND) * 1000;
  return {
    busy: toMs((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)),
    steal: toMs(steal ?? 0),
  };
}

/** Members of these kinds are the same in every profile; any other serves the session store. */
const PART_OF_KIND: Record<string, CorePart> = {
  replica: 'replicas',
  nginx: 'nginx',
  postgres: 'postgres',
};

/** The session-store service a member belongs to (its plugin's name); undefined for the rest. */
export const storeServiceOf = (m: Pick<MemberStatus, 'kind' | 'service'>): string | undefined =>
  Object.hasOwn(PART_OF_KIND, m.kind) ? undefined : m.service;

export interface CpuSnapshot {
  /** performance.now() when /proc/stat was read. */
  at: number;
  /** CPU milliseconds used so far by each part (a process and what it forked). */
  parts: Map<CorePart, number>;
  /** The same for the store's services, by plugin name. */
  stores: Map<string, number>;
}

export async function cpuSnapshot(cluster: Cluster): Promise<CpuSnapshot> {
  const at = performance.now();
  const machine = await machineCpuMs();
  const parts = new Map<CorePart, number>([
    ['machine', machine.busy],
    ['steal', machine.steal],
  ]);
  const stores = new Map<string, number>();
  for (const member of cluster.status()) {
    if (!member.pid) continue;
    const pids = [member.pid, ...(await descendantsOf(member.pid)).map((p) => p.pid)];
    const ms = (await Promise.all(pids.map(processCpuMs))).reduce((a, b) => a + b, 0);
    const store = storeServiceOf(member);
    const part = PART_OF_KIND[member.kind];
    if (store) stores.set(store, (stores.get(store) ?? 0) + ms);
    else if (part) parts.set(part, (parts.get(part) ?? 0) + ms);
  }
  return { at, parts, stores };
}

/** Cores used per part between two snapshots. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const ms = after.at - before.at;
  // A process that exited in between takes its CPU time with it: never below zero.
  const cores = (total: number, earlier = 0) => Math.max(0, total - earlier) / ms;
  const use: CpuUse = {};
  for (const [part, total] of after.parts) use[part] = cores(total, before.parts.get(part));
  if (after.stores.size) {
    use.stores = Object.fromEntries(
      [...after.stores].map(([name, total]) => [name, cores(total, before.stores.get(name))]),
    );
  }
  return use;
}
