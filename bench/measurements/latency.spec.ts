import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { KEPT_UP_MARGIN_MS, KNEE, keptUp, nextProbe } from './latency.js';

/** A probe's answers: `n` requests evenly due over the window, each waiting `wait(share)` ms. */
const probe = (n: number, windowMs: number, wait: (share: number) => number) =>
  Array.from({ length: n }, (_, i) => ({
    dueMs: (i / n) * windowMs,
    waitMs: wait(i / n),
  }));

describe('keptUp: did a row keep up with a fixed rate', () => {
  const windowMs = 3000;
  const light = fc.double({ min: 0.5, max: 5, noNaN: true });

  it('keeps a queue that stands short, whatever a few stalls add to the tail', () => {
    fc.assert(
      fc.property(
        light,
        fc.double({ min: 1, max: KNEE, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 0.99, noNaN: true }), { maxLength: 2 }),
        (lightP50, factor, stalls) => {
          // Up to two stalls, each making a tenth of a quarter’s requests wait 200 ms.
          const waits = probe(2000, windowMs, (share) =>
            stalls.some((at) => share >= at && share < at + 0.025) ? 200 : lightP50 * factor,
          );
          expect(keptUp(waits, { windowMs, lost: 0, lightP50 }).kept).toBe(true);
        },
      ),
    );
  });

  it('loses a queue that grows over the probe, from wherever it starts', () => {
    fc.assert(
      fc.property(light, fc.double({ min: 0, max: 2000, noNaN: true }), (lightP50, extra) => {
        // Grown past twice the first quarter's median and the margin by the last quarter.
        const growth = 2 * (lightP50 + KEPT_UP_MARGIN_MS) + extra;
        const waits = probe(2000, windowMs, (share) => lightP50 + share * growth);
        expect(keptUp(waits, { windowMs, lost: 0, lightP50 }).kept).toBe(false);
      }),
    );
  });

  it('loses a queue that stands still but long (the open loop turned closed)', () => {
    fc.assert(
      fc.property(light, fc.double({ min: KNEE * 1.01, max: 100, noNaN: true }), (lightP50, f) => {
        const waits = probe(2000, windowMs, () => lightP50 * f);
        expect(keptUp(waits, { windowMs, lost: 0, lightP50 }).kept).toBe(false);
      }),
    );
  });

  it('loses a probe with a request lost or no answers at all', () => {
    const waits = probe(2000, windowMs, () => 1);
    expect(keptUp(waits, { windowMs, lost: 1, lightP50: 1 }).kept).toBe(false);
    expect(keptUp([], { windowMs, lost: 0, lightP50: 1 }).kept).toBe(false);
  });
});

describe('nextProbe: the bisection', () => {
  it('probes strictly between kept and lost, and reaches adjacent rates in log2 steps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.func(fc.boolean()),
        (light, span, keeps) => {
          let kept = light;
          let lost = light + span;
          let steps = 0;
          for (let rate = nextProbe(kept, lost); rate !== undefined; rate = nextProbe(kept, lost)) {
            expect(rate).toBeGreaterThan(kept);
            expect(rate).toBeLessThan(lost);
            if (keeps(rate)) kept = rate;
            else lost = rate;
            steps++;
          }
          expect(lost - kept).toBeLessThanOrEqual(1);
          expect(steps).toBeLessThanOrEqual(Math.ceil(Math.log2(span + 1)));
        },
      ),
    );
  });
});
