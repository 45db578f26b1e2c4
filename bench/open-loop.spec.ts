import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClient } from '../cluster/virtual-client.js';
import { generatorFlags, runOpenLoop } from './open-loop.js';

/**
 * A real HTTP server on loopback that answers at once, except while `stall` says it stalls: a
 * request that arrives then (or is in flight) is answered when the stall ends, as a server whose
 * event loop or store froze for that long.
 */
class StallingServer {
  private readonly server: Server;
  private stalledUntil = 0;
  private held: Array<() => void> = [];

  constructor() {
    this.server = createServer((_req, res) => {
      const answer = () => res.writeHead(200, { 'x-served-by': 'app-1' }).end('{}');
      if (performance.now() < this.stalledUntil) this.held.push(answer);
      else answer();
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stall(ms: number): void {
    this.stalledUntil = performance.now() + ms;
    setTimeout(() => {
      const held = this.held;
      this.held = [];
      held.forEach((answer) => {
        answer();
      });
    }, ms);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

describe('runOpenLoop', () => {
  const server = new StallingServer();
  let url = '';
  beforeAll(async () => (url = await server.listen()));
  afterAll(() => server.close());

  const clients = (n: number) =>
    Array.from({ length: n }, () => new VirtualClient(url, '127.0.0.1'));

  it('turns a stall of S ms at R requests per second into about S × R late requests', async () => {
    const [rate, stallMs, lateMs] = [250, 600, 50];
    const c = clients(10);
    setTimeout(() => {
      server.stall(stallMs);
    }, 700);
    const late = { intended: 0, service: 0 };
    const run = await runOpenLoop(c, {
      path: '/',
      ratePerSecond: rate,
      warmupMs: 200,
      durationMs: 1800,
      onResult: (r) => {
        if (r.intendedMs > lateMs) late.intended++;
        if (r.serviceMs > lateMs) late.service++;
      },
    });
    c.forEach((client) => {
      client.close();
    });

    // Due during the stall, each waits from its due time to the stall's end: more than lateMs
    // for all but the last lateMs of it.
    const expected = ((stallMs - lateMs) * rate) / 1000;
    // (Bounds with room for a busy machine: jest runs other files on the same cores.)
    expect(late.intended).toBeGreaterThan(expected * 0.7);
    expect(late.intended).toBeLessThan(expected * 1.4);
    // Timed from the send, as a closed loop does, the stall shows once per client (10): hidden.
    expect(late.service).toBeLessThan(expected * 0.4);
    expect(run.latency.percentile(99)).toBeGreaterThan(stallMs * 0.8);
    expect(run.answered).toBe(run.scheduled);
    expect(run.scheduled).toBeGreaterThan(rate * 1.8 * 0.95);
    expect(run.scheduled).toBeLessThan(rate * 1.8 * 1.05);
    expect(run.failed).toBe(0);
  });

  it('keeps the rate, not the pace of the answers: no burst on a fast server', async () => {
    const c = clients(5);
    const sent: number[] = [];
    const run = await runOpenLoop(
      c.map((client) => ({
        send: (method: string, path: string) => (
          sent.push(performance.now()),
          client.send(method, path)
        ),
      })),
      { path: '/', ratePerSecond: 100, warmupMs: 0, durationMs: 1000, lagLimitMs: 100 },
    );
    c.forEach((client) => {
      client.close();
    });

    expect(run.scheduled).toBe(100);
    // In any 200 ms, about 20 sends: never a burst (a late timer is caught up, not more).
    for (const t of sent) {
      const inWindow = sent.filter((s) => s >= t && s < t + 200).length;
      expect(inWindow).toBeLessThanOrEqual(35);
    }
    expect(run.behind).toBe(false);
  });

  it('never sends a request before it is due, at any rate and number of clients', async () => {
    // Timed from its due time, a request can never have taken less than timed from its send.
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 2000 }),
        fc.integer({ min: 1, max: 20 }),
        async (rate, n) => {
          const c = clients(n);
          const early: number[] = [];
          const run = await runOpenLoop(c, {
            path: '/',
            ratePerSecond: rate,
            warmupMs: 0,
            durationMs: 300,
            lagLimitMs: 1000,
            onResult: (r) => {
              if (r.intendedMs < r.serviceMs) early.push(r.serviceMs - r.intendedMs);
            },
          });
          c.forEach((client) => {
            client.close();
          });
          expect(run.answered).toBeGreaterThan(0);
          expect(early).toEqual([]);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('says when it fell behind its own schedule (its event loop blocked), not the server', async () => {
    const c = clients(10);
    setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until); // the generator's own thread is busy
    }, 400);
    const run = await runOpenLoop(c, {
      path: '/',
      ratePerSecond: 200,
      warmupMs: 100,
      durationMs: 1000,
    });
    c.forEach((client) => {
      client.close();
    });

    expect(run.behind).toBe(true);
    expect(run.lag.percentile(99)).toBeGreaterThan(100);
  });

  it('gives up on answers after the drain, but returns only once every client is free again', async () => {
    let out = 0;
    const slow = {
      send: async () => {
        out++;
        await new Promise((resolve) => setTimeout(resolve, 400));
        out--;
        return { status: 200, servedBy: 'app-1', body: '{}', ms: 400 };
      },
    };
    const run = await runOpenLoop([slow, slow], {
      path: '/',
      ratePerSecond: 20,
      warmupMs: 0,
      durationMs: 300,
      drainMs: 50,
    });
    expect(out).toBe(0); // nothing of this run is still out to meet the next one
    expect(run.scheduled).toBe(6);
    expect(run.answered + run.unanswered).toBe(run.scheduled);
    expect(run.unanswered).toBeGreaterThan(0);
  });

  it('counts a sender that throws as a failed request, and goes on', async () => {
    let calls = 0;
    const flaky = {
      send: () => {
        calls++;
        return calls % 2
          ? Promise.reject(new Error('socket hang up'))
          : Promise.resolve({ status: 200, servedBy: 'app-1', body: '{}', ms: 1 });
      },
    };
    const run = await runOpenLoop([flaky], {
      path: '/',
      ratePerSecond: 50,
      warmupMs: 0,
      durationMs: 200,
    });
    expect(run.scheduled).toBe(10);
    expect(run.answered).toBe(10);
    expect(run.failed).toBe(5);
  });

  it('refuses a rate that is not above 0', async () => {
    await expect(
      runOpenLoop(clients(1), { path: '/', ratePerSecond: 0, warmupMs: 0, durationMs: 10 }),
    ).rejects.toThrow(/rate above 0/);
  });
});

describe('generatorFlags', () => {
  it('picks the flags against the generator’s pauses out of its command line', () => {
    expect(generatorFlags([])).toEqual([]);
    expect(
      generatorFlags([
        '--max-semi-space-size=1',
        '--max-old-space-size=4096',
        '--single-threaded-gc',
        '--max-semi-space-size',
      ]),
    ).toEqual(['--max-semi-space-size=1', '--single-threaded-gc']);
  });
});
