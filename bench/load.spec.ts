import { describe, expect, it } from '@jest/globals';
import { Histogram } from './histogram.js';
import {
  clientAddress,
  NAT_ADDRESS,
  onSchedule,
  runLoad,
  summarize,
  warmedUp,
  type LoadRun,
} from './load.js';
import type { Sender } from './open-loop.js';
import fc from 'fast-check';

function run(byReplica: Record<string, number>): LoadRun {
  const latency = new Histogram();
  latency.record(5);
  const requests = Object.values(byReplica).reduce((a, b) => a + b, 0);
  return {
    clients: 10,
    seconds: 2,
    latency,
    requests,
    non2xx: 1,
    errors: 2,
    authenticated: requests / 2,
    byReplica: new Map(Object.entries(byReplica)),
    lastReplica: new Map(),
    loadCpuMs: 500,
  };
}

describe('clientAddress', () => {
  it('gives every client its own /24 (what ip_hash keys on), all in loopback 127/8', () => {
    const subnets = new Set(
      Array.from({ length: 1000 }, (_, i) => clientAddress(i).split('.').slice(0, 3).join('.')),
    );

    expect(subnets.size).toBe(1000);
    expect(clientAddress(0)).toBe('127.1.1.1');
    expect(clientAddress(249)).toBe('127.1.250.1');
    expect(clientAddress(250)).toBe('127.2.1.1');
    expect(NAT_ADDRESS.startsWith('127.')).toBe(true);
  });
});

describe('summarize', () => {
  const replicas = ['app-1', 'app-2', 'app-3'];

  it('turns counts into rates, shares and busiest ÷ idlest', () => {
    const s = summarize(run({ 'app-1': 400, 'app-2': 200, 'app-3': 400 }), replicas);

    expect(s.rps).toBe(500);
    expect(s.shares).toEqual({ 'app-1': 0.4, 'app-2': 0.2, 'app-3': 0.4 });
    expect(s.skew).toBe(2);
    expect(s.authenticatedShare).toBe(0.5);
    expect(s.loadCpuPercent).toBe(25);
    expect([s.non2xx, s.errors]).toEqual([1, 2]);
  });

  it('says "no ratio" (null) when a replica served nothing, as behind one NAT with ip_hash', () => {
    const s = summarize(run({ 'app-2': 1000 }), replicas);

    expect(s.skew).toBeNull();
    expect(s.shares['app-2']).toBe(1);
  });
});

describe('runLoad with tailAfterEventsMs', () => {
  it('keeps the load going until the event is over and the tail has passed', async () => {
    const reply = { status: 200, body: '{}', ms: 1, servedBy: 'app-1' };
    const client: Sender = {
      send: () =>
        new Promise((resolve) =>
          setTimeout(() => {
            resolve(reply);
          }, 1),
        ),
    };
    let eventDone = 0;
    let lastReply = 0;
    const t0 = performance.now();
    await runLoad([client], {
      path: '/api/whoami',
      warmupMs: 0,
      durationMs: 10,
      tailAfterEventsMs: 50,
      onReply: (_, __, atMs) => (lastReply = atMs),
      events: [
        {
          atMs: 0,
          run: async () => {
            await new Promise((resolve) => setTimeout(resolve, 200));
            eventDone = performance.now() - t0;
          },
        },
      ],
    });
    // The run was 10 ms long, but the event took 200 ms: replies went on past its end + 50 ms.
    expect(eventDone).toBeGreaterThanOrEqual(200);
    expect(lastReply).toBeGreaterThanOrEqual(eventDone + 49); // the two clocks start µs apart
  });
});

describe('runLoad with a rate bound', () => {
  it('never offers more than the rate, however fast the answers come', async () => {
    // Clients that answer at once: back to back they would send thousands of requests.
    const instant: Sender = {
      send: async () => ({ status: 200, servedBy: 'app-1', body: '', ms: 0 }),
    };
    const clients = Array.from({ length: 4 }, () => instant);
    const run = await runLoad(clients, {
      path: '/api/whoami',
      warmupMs: 0,
      durationMs: 500,
      ratePerSecond: 40,
    });

    // 40/s for 0.5 s: 20 slots, one more per client at most at the window's edge.
    expect(run.requests).toBeGreaterThan(0);
    expect(run.requests).toBeLessThanOrEqual(24);
  });
});

describe('onSchedule', () => {
  it('makes each item’s calls, staggered, never faster than the rate', async () => {
    const calls: Array<[string, number, number]> = [];
    const t0 = performance.now();
    await onSchedule(['a', 'b', 'c'], { ratePerSecond: 300, each: 4 }, async (item, i, call) => {
      calls.push([item, i, call]);
    });
    const took = performance.now() - t0;
    expect(calls).toHaveLength(12);
    for (const [item, i] of [
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ] as const)
      expect(calls.filter((c) => c[0] === item).map((c) => [c[1], c[2]])).toEqual(
        [0, 1, 2, 3].map((k) => [i, k]),
      );
    // 12 calls at 300/s: the last starts 11 intervals of 1000/300 ms after the first, at least
    // (less up to 1 ms a wait: Node's timers take whole milliseconds, rounded down).
    expect(took).toBeGreaterThanOrEqual(11 * (1000 / 300) - 2);
  });

  it('stops when told', async () => {
    let stop = false;
    let calls = 0;
    await onSchedule([0], { ratePerSecond: 1000, stop: () => stop }, async () => {
      calls++;
      if (calls === 5) stop = true;
    });
    expect(calls).toBe(5);
  });
});

describe('warmedUp', () => {
  const rates = fc.array(fc.double({ min: 1, max: 10_000, noNaN: true }), { maxLength: 40 });

  it('never ends before the least warm-up, nor before two windows to compare', () => {
    fc.assert(
      fc.property(rates, fc.integer({ min: 0, max: 20 }), (slices, min) => {
        if (slices.length < Math.max(min, 6)) expect(warmedUp(slices, min)).toBe(false);
      }),
    );
  });

  it('goes on while the last three seconds are more than 5 % above the three before', () => {
    fc.assert(
      fc.property(rates, fc.double({ min: 1.06, max: 3, noNaN: true }), (slices, rise) => {
        const flat = [...slices, 1000, 1000, 1000];
        const rising = [...flat, 1000 * rise, 1000 * rise, 1000 * rise];
        expect(warmedUp(rising, 0)).toBe(false);
        expect(warmedUp([...rising, ...rising.slice(-3)], 0)).toBe(true);
      }),
    );
  });

  it('ends on a plateau or a fall, once the least warm-up is done', () => {
    expect(warmedUp([1500, 3400, 4700, 3900, 4300, 5600, 5500, 4500, 4200], 9)).toBe(true);
    expect(warmedUp([1500, 3400, 4700, 3900, 4300, 5600, 5500, 4500, 4200], 10)).toBe(false);
    expect(warmedUp([1500, 3400, 4700, 3900, 4300, 5600], 0)).toBe(false);
  });
});
