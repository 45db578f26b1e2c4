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
 * (how late it got to each request on its schedule); a run whose lag p99 passes
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
  onResult?: (r: {
    client: number;
    /** When it was due, ms after the measured window began. */
    dueMs: number;
    intendedMs: number;
    serviceMs: number;
    reply: Reply;
  }) => void;
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
  /** How late the generator got to each request on its schedule (ms). */
  lag: Histogram;
  /** The lag p99 passed the limit: the figures measure the generator. */
  behind: boolean;
}

/**
 * The V8 flags this process runs with that bear on the generator's pauses. `npm run bench` asks
 * for the smallest young generation (`--max-semi-space-size=1`): each minor collection stops the
 * generator for as long as it copies what survives, and with hundreds of requests in flight the
 * default (tens of MB) made pauses of 20–40 ms, which its clocks counted as the servers'. And for
 * `--single-threaded-gc`: its collector's helper threads waited for cores the servers held.
 */
export function generatorFlags(argv: readonly string[] = process.execArgv): string[] {
  return argv.filter((a) => /^--(max-semi-space-size=\d+|single-threaded-gc)$/.test(a));
}

/** A client of the open loop: is a request out, and the due times of those waiting on it. */
interface Lane {
  index: number;
  client: Sender;
  busy: boolean;
  waiting: number[];
}

/** A generator more than this late (p99) to its own schedule measured itself. */
export const LAG_LIMIT_MS = 10;
const DRAIN_MS = 30_000;

/**
 * One dispatcher for all clients: request k is due at t0 + k / rate and goes to client k mod n
 * (so each client's requests are evenly spaced, the clients staggered evenly between them). A
 * single timer wakes it when the next request is due, where a timer per client costs the
 * generator a timer and a promise per request: its CPU is the cores the servers measured lose.
 * It never sends early: Node counts timeouts in whole milliseconds from the event loop's cached
 * clock, so a timer may run up to 1 ms early; the dispatcher sends only what is due by the
 * clock and sleeps again (a request sent early would count less than its real latency).
 */
export function runOpenLoop(clients: Sender[], o: OpenLoopOptions): Promise<OpenLoopRun> {
  if (!(o.ratePerSecond > 0) || clients.length === 0)
    return Promise.reject(
      new Error(`open loop: needs clients and a rate above 0, not ${o.ratePerSecond}/s`),
    );
  const n = clients.length;
  const step = 1000 / o.ratePerSecond;
  const t0 = performance.now();
  const measureFrom = t0 + o.warmupMs;
  const end = measureFrom + o.durationMs;
  const giveUp = end + (o.drainMs ?? DRAIN_MS);
  const dueOf = (k: number) => t0 + k * step;
  const run: OpenLoopRun = {
    ratePerSecond: o.ratePerSecond,
    clients: n,
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
  const lanes = clients.map((client, index): Lane => ({ index, client, busy: false, waiting: [] }));
  /** Requests out: the run ends only once they are back, so the clients are free for the next. */
  const out = new Set<Promise<void>>();
  let next = 0;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;

  return new Promise<OpenLoopRun>((resolve, reject) => {
    /** Counts freeze here; answers still out are waited for (each within the client's timeout). */
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      run.unanswered = run.scheduled - run.answered;
      run.behind = run.lag.percentile(99) > (o.lagLimitMs ?? LAG_LIMIT_MS);
      void Promise.allSettled(out).then(() => {
        if (error === undefined) resolve(run);
        else reject(error instanceof Error ? error : new Error('open loop: onResult failed'));
      });
    };
    const answered = (lane: Lane, due: number, reply: Reply) => {
      const intendedMs = performance.now() - due;
      lane.busy = false;
      if (due >= measureFrom) {
        run.answered++;
        run.latency.record(intendedMs);
        run.service.record(reply.ms);
        if (reply.status < 200 || reply.status > 299) run.failed++;
        o.onResult?.({
          client: lane.index,
          dueMs: due - measureFrom,
          intendedMs,
          serviceMs: reply.ms,
          reply,
        });
      }
      const later = lane.waiting.shift();
      if (later !== undefined) send(lane, later);
      else if (dueOf(next) >= end && out.size === 0) finish();
    };
    const send = (lane: Lane, due: number) => {
      lane.busy = true;
      const sentAt = performance.now();
      const request: Promise<void> = lane.client
        .send('GET', o.path)
        .catch((error: unknown) => ({
          status: 0,
          servedBy: '',
          body: error instanceof Error ? error.message : 'the request failed',
          ms: performance.now() - sentAt,
        }))
        .then((reply) => {
          out.delete(request);
          if (!finished) answered(lane, due, reply);
        })
        .catch((error: unknown) => {
          finish(error);
        }); // onResult threw: the run fails with it
      out.add(request);
    };
    const dispatch = () => {
      const now = performance.now();
      if (now >= giveUp) {
        finish();
        return;
      }
      for (let due = dueOf(next); due < end && due <= now; due = dueOf(++next)) {
        const lane = lanes[next % n];
        if (lane === undefined) throw new Error(`open loop: no client ${next % n}`);
        if (due >= measureFrom) {
          run.scheduled++;
          // How late the generator got to this request, whether or not its client is free (a
          // busy client is the server's doing; getting here late is the generator's own). Read
          // per request: sending one costs tens of µs, so a batch runs later than its first.
          run.lag.record(performance.now() - due);
        }
        if (lane.busy) lane.waiting.push(due);
        else send(lane, due);
      }
      if (dueOf(next) < end) timer = setTimeout(dispatch, Math.ceil(dueOf(next) - now));
      else if (out.size === 0) finish();
      else timer = setTimeout(dispatch, giveUp - now); // only to give up on the last answers
    };
    dispatch();
  });
}
