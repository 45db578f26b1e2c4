/**
 * Open-loop load at a fixed rate, as wrk2 does it: every request has an intended send time on a
 * fixed schedule, whatever the answers before it did, and its latency counts from that time.
 * A closed loop (load.ts) waits for each answer before the next request, so a server that stalls
 * for S ms delays one request per client and the clients' other requests are simply never sent
 * ("coordinated omission"): the stall hides. Here a stall of S ms at R requests per second makes
 * about S × R requests late, as it does to users.
 *
 * Each client keeps one keep-alive connection (like a browser tab): a request due while the
 * client still waits for the one before goes out as soon as that answers, and is measured from
 * when it was due. The generator shares the machine with the servers, so it records its own lag
 * (how late it sent a request it was free to send on time); a run whose lag p99 passes
 * `lagLimitMs` measured the generator, not the servers, and says so (`behind`).
 */
import type { Reply } from '../cluster/virtual-client.js';
import { Histogram } from './histogram.js';

/** Anything that sends a request and answers with a Reply (a VirtualClient). */
export interface Sender {
  send(method: string, path: string): Promise<Reply>;
}

export interface OpenLoopOptions {
  path: string;
  /** All clients together. */
  ratePerSecond: number;
  warmupMs: number;
  durationMs: number;
  /** The generator's own lag p99 above which the run is `behind` (default LAG_LIMIT_MS). */
  lagLimitMs?: number;
  /** Requests still unanswered this long after the window stop being waited for. */
  drainMs?: number;
  /** Every measured request: its latency from the intended send time and from the actual one. */
  onResult?: (r: { client: number; intendedMs: number; serviceMs: number; reply: Reply }) => void;
}

export interface OpenLoopRun {
  ratePerSecond: number;
  clients: number;
  seconds: number;
  /** Latency from each request's intended send time: what a user waits. */
  latency: Histogram;
  /** Latency from the actual send time: what a closed loop would have reported. */
  service: Histogram;
  /** Requests due in the measured window; answered ones are in `latency`. */
  scheduled: number;
  answered: number;
  /** Due but never sent or answered before the drain ran out. */
  unanswered: number;
  failed: number;
  /** How late the generator sent requests it was free to send (ms). */
  lag: Histogram;
  /** The lag p99 passed the limit: the figures measure the generator. */
  behind: boolean;
}

/** A generator more than this late (p99) to its own schedule measured itself. */
export const LAG_LIMIT_MS = 10;
const DRAIN_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Never wakes before `due`. A timer alone may: Node counts timeouts in whole milliseconds from
 * the event loop's cached clock, so `setTimeout(f, 1.7)` can run 1 ms early, and a request sent
 * early would count less than its real latency (a fast server's p50 came out as 0).
 */
async function sleepUntil(due: number): Promise<void> {
  for (let left = due - performance.now(); left > 0; left = due - performance.now()) {
    await sleep(Math.ceil(left));
  }
}

export async function runOpenLoop(clients: Sender[], o: OpenLoopOptions): Promise<OpenLoopRun> {
  if (!(o.ratePerSecond > 0) || clients.length === 0)
    throw new Error(`open loop: needs clients and a rate above 0, not ${o.ratePerSecond}/s`);
  const interval = (1000 * clients.length) / o.ratePerSecond;
  const t0 = performance.now();
  const measureFrom = t0 + o.warmupMs;
  const end = measureFrom + o.durationMs;
  const giveUp = end + (o.drainMs ?? DRAIN_MS);
  const run: OpenLoopRun = {
    ratePerSecond: o.ratePerSecond,
    clients: clients.length,
    seconds: o.durationMs / 1000,
    latency: new Histogram(),
    service: new Histogram(),
    scheduled: 0,
    answered: 0,
    unanswered: 0,
    failed: 0,
    lag: new Histogram(),
    behind: false,
  };
  await Promise.all(
    clients.map(async (client, i) => {
      // Clients staggered evenly over one interval: together, one request every 1000/rate ms.
      for (let due = t0 + (interval * i) / clients.length; due < end; due += interval) {
        const measured = due >= measureFrom;
        if (measured) run.scheduled++;
        if (performance.now() >= giveUp) {
          if (measured) run.unanswered++;
          continue;
        }
        if (performance.now() < due) {
          await sleepUntil(due);
          // Free to send on time: any lateness now is the generator's own.
          if (measured) run.lag.record(performance.now() - due);
        }
        const reply = await client.send('GET', o.path);
        const intendedMs = performance.now() - due;
        if (!measured) continue;
        run.answered++;
        run.latency.record(intendedMs);
        run.service.record(reply.ms);
        if (reply.status < 200 || reply.status > 299) run.failed++;
        o.onResult?.({ client: i, intendedMs, serviceMs: reply.ms, reply });
      }
    }),
  );
  run.behind = run.lag.percentile(99) > (o.lagLimitMs ?? LAG_LIMIT_MS);
  return run;
}
