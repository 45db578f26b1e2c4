/**
 * The load generator: virtual clients, each with its own cookie jar, keep-alive connection and
 * source address, sending requests back to back (closed loop) for a warm-up and then a fixed,
 * measured duration. Everything is bounded in time: each request by a timeout, each run by its
 * deadline.
 */
import { isAuthenticated, type Reply } from '../cluster/virtual-client.js';
import { Histogram, type LatencySummary } from './histogram.js';
import type { Sender } from './open-loop.js';

/**
 * Client i's source address. nginx's ip_hash keys on the first three octets, so each client gets
 * its own /24; every 127/8 address is loopback on Linux, no setup needed.
 */
export function clientAddress(i: number): string {
  return `127.${1 + Math.floor(i / 250)}.${1 + (i % 250)}.1`;
}

/** "Behind one NAT": every client shares this address (out of clientAddress's range). */
export const NAT_ADDRESS = '127.254.0.1';

export interface LoadOptions {
  path: string;
  warmupMs: number;
  durationMs: number;
  /** Sees every reply, warm-up included, with the time since the run started (ms). */
  onReply?: (client: number, reply: Reply, atMs: number) => void;
  /**
   * Run `atMs` after the measured phase started (e.g. counter snapshots at 0 and at the end, or
   * killing a replica); awaited before runLoad returns.
   */
  events?: { atMs: number; run: () => Promise<void> }[];
  /**
   * Keeps the run going past `durationMs` until every event has finished and no request has
   * failed for this many ms (a fault whose length and recovery are not known in advance).
   */
  tailAfterEventsMs?: number;
  /**
   * Bounds the offered load: the clients together start at most this many requests per second,
   * each on its own schedule (a late request does not make the next ones come faster).
   * Absent: back to back, as fast as the cluster answers (the standard load).
   */
  ratePerSecond?: number;
}

/** The raw outcome of one run; `summarize` turns it into figures. */
export interface LoadRun {
  clients: number;
  seconds: number;
  latency: Histogram;
  requests: number;
  non2xx: number;
  errors: number;
  authenticated: number;
  byReplica: Map<string, number>;
  /** Client index → the replica that answered its last measured request (where it is pinned). */
  lastReplica: Map<number, string>;
  /** CPU time the load generator itself used (ms), to see how much of the machine it took. */
  loadCpuMs: number;
}

/**
 * Every client sends `GET path` back to back: warm-up first (not recorded), then `durationMs`
 * measured. A request counts when its answer arrives inside the measured window, so counters
 * read at the window's edges (Redis, Postgres, CPU) divide by the requests they saw.
 */
export async function runLoad(clients: Sender[], o: LoadOptions): Promise<LoadRun> {
  const t0 = performance.now();
  const measureFrom = t0 + o.warmupMs;
  let end = measureFrom + o.durationMs;
  let pendingEvents = o.tailAfterEventsMs === undefined ? 0 : (o.events ?? []).length;
  // An event that never settles, or failures that never stop, must not keep it going for ever.
  const hardEnd = end + 120_000;
  const eventFinished = () => {
    if (o.tailAfterEventsMs === undefined) return;
    pendingEvents--;
    end = Math.max(end, performance.now() + o.tailAfterEventsMs);
  };
  const run: LoadRun = {
    clients: clients.length,
    seconds: o.durationMs / 1000,
    latency: new Histogram(),
    requests: 0,
    non2xx: 0,
    errors: 0,
    authenticated: 0,
    byReplica: new Map(),
    lastReplica: new Map(),
    loadCpuMs: 0,
  };
  let cpu: NodeJS.CpuUsage | undefined;
  const cpuStart = setTimeout(() => (cpu = process.cpuUsage()), o.warmupMs);
  const eventsDone: Promise<void>[] = [];
  let eventError: Error | undefined;
  const timers = (o.events ?? []).map((e) =>
    setTimeout(() => {
      // Caught at once, thrown after the run: a rejection left waiting would end the process.
      eventsDone.push(
        e
          .run()
          .catch(
            (error: unknown) =>
              void (eventError ??= error instanceof Error ? error : new Error(String(error))),
          )
          .finally(eventFinished),
      );
    }, o.warmupMs + e.atMs),
  );

  const interval = o.ratePerSecond ? (1000 * clients.length) / o.ratePerSecond : 0;
  await Promise.all(
    clients.map(async (client, i) => {
      let slot = t0 + (interval * i) / clients.length;
      const over = () => {
        const now = performance.now();
        return now >= hardEnd || (now >= end && pendingEvents === 0);
      };
      for (;;) {
        if (over()) break;
        if (interval) {
          const wait = slot - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          if (over()) break;
          slot = Math.max(slot + interval, performance.now());
        }
        const reply = await client.send('GET', o.path);
        const finished = performance.now();
        o.onReply?.(i, reply, finished - t0);
        if (o.tailAfterEventsMs !== undefined && (reply.status < 200 || reply.status > 299))
          end = Math.max(end, finished + o.tailAfterEventsMs);
        if (finished < measureFrom || finished > end) continue;
        run.requests++;
        run.latency.record(reply.ms);
        if (reply.status === 0) run.errors++;
        else if (reply.status < 200 || reply.status > 299) run.non2xx++;
        if (isAuthenticated(reply)) run.authenticated++;
        if (reply.servedBy) {
          run.byReplica.set(reply.servedBy, (run.byReplica.get(reply.servedBy) ?? 0) + 1);
          run.lastReplica.set(i, reply.servedBy);
        }
      }
    }),
  );
  clearTimeout(cpuStart);
  if (cpu) {
    const used = process.cpuUsage(cpu);
    run.loadCpuMs = (used.user + used.system) / 1000;
  }
  // An event due right at the end may not have fired yet: give it its turn.
  await new Promise((resolve) => setTimeout(resolve, 0));
  timers.forEach(clearTimeout);
  await Promise.all(eventsDone);
  if (eventError) throw eventError;
  return run;
}

export interface LoadSummary {
  clients: number;
  seconds: number;
  requests: number;
  /** Requests per second. */
  rps: number;
  latency: LatencySummary;
  non2xx: number;
  errors: number;
  /** Share of replies that said `authenticated: true`. */
  authenticatedShare: number;
  /** Share of requests each replica served. */
  shares: Record<string, number>;
  /** Busiest ÷ idlest replica; null when a replica served nothing (busiest ÷ 0). */
  skew: number | null;
  /**
   * Clients per replica, each counted where its last request was answered: where a pinning
   * strategy put it (in a closed loop the request shares follow each replica's speed instead).
   * Absent in results written before issue 31.
   */
  clientsPerReplica?: Record<string, number>;
  /** Busiest ÷ idlest replica by clients; null when a replica has none. */
  clientSkew?: number | null;
  /** The load generator's own CPU use, in percent of one core. */
  loadCpuPercent: number;
}

export function summarize(run: LoadRun, replicas: readonly string[]): LoadSummary {
  const count = (r: string) => run.byReplica.get(r) ?? 0;
  const lastReplicas = [...run.lastReplica.values()];
  const pinnedTo = (r: string) => lastReplicas.filter((x) => x === r).length;
  const counts = replicas.map(count);
  const served = counts.reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(replicas.map((r) => [r, served ? count(r) / served : 0]));
  const idlest = Math.min(...counts);
  const pinned = replicas.map(pinnedTo);
  const fewest = Math.min(...pinned);
  return {
    clients: run.clients,
    seconds: run.seconds,
    requests: run.requests,
    rps: run.requests / run.seconds,
    latency: run.latency.summary(),
    non2xx: run.non2xx,
    errors: run.errors,
    authenticatedShare: run.requests ? run.authenticated / run.requests : 0,
    shares,
    skew: idlest > 0 ? Math.max(...counts) / idlest : null,
    clientsPerReplica: Object.fromEntries(replicas.map((r) => [r, pinnedTo(r)])),
    clientSkew: fewest > 0 ? Math.max(...pinned) / fewest : null,
    loadCpuPercent: (run.loadCpuMs / (run.seconds * 1000)) * 100,
  };
}

/** Runs `work` for each item with at most `limit` in flight; results in input order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  // One iterator shared by the workers: each takes the next item when it is free.
  const queue = items.entries();
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (const [i, item] of queue) results[i] = await work(item, i);
    }),
  );
  return results;
}

/**
 * Each item does `work` on a schedule: together `ratePerSecond` calls, item i every
 * items × 1000 / rate ms, the items staggered. On a schedule, not a pause after each call: a slow
 * answer does not lower the rate (a late call is followed by the next one at once, and the
 * schedule picks up from there). Until every item has made `each` calls, or `stop()` says so.
 */
export async function onSchedule<T>(
  items: readonly T[],
  o: { ratePerSecond: number; each?: number; stop?: () => boolean },
  work: (item: T, index: number, call: number) => Promise<void>,
): Promise<void> {
  const interval = (1000 * items.length) / o.ratePerSecond;
  const t0 = performance.now();
  await Promise.all(
    items.map(async (item, i) => {
      let slot = t0 + (interval * i) / items.length;
      for (let call = 0; call < (o.each ?? Infinity) && !o.stop?.(); call++) {
        const wait = slot - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (o.stop?.()) break;
        await work(item, i, call);
        slot = Math.max(slot + interval, performance.now());
      }
    }),
  );
}

/** Slices compared as means of this many: one second's throughput varies by a fifth here. */
const WARMUP_WINDOW = 3;

/**
 * Whether a warm-up of one-second slices (their throughput, oldest first) may end. Steady: at
 * least `minSlices` slices, and the mean of the last WARMUP_WINDOW no more
 * than 5 % above the mean of the WARMUP_WINDOW before them.
 */
export function warmedUp(slices: readonly number[], minSlices: number): boolean {
  if (slices.length < Math.max(minSlices, 2 * WARMUP_WINDOW)) return false;
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const last = mean(slices.slice(-WARMUP_WINDOW));
  const before = mean(slices.slice(-2 * WARMUP_WINDOW, -WARMUP_WINDOW));
  return last <= before * 1.05;
}
