import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { defined } from '../src/common/defined.js';
import { Histogram } from './histogram.js';

/** Three significant figures: within 0.1 % (plus the 1 µs of rounding to whole microseconds). */
const close = (got: number, want: number) => {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.001 + 0.001);
};

describe('Histogram', () => {
  it('reports percentiles of a known distribution within 0.1 %', () => {
    const h = new Histogram();
    for (let ms = 1; ms <= 1000; ms++) h.record(ms);

    const s = h.summary();
    expect(s.count).toBe(1000);
    close(s.p50, 500);
    close(s.p90, 900);
    close(s.p99, 990);
    close(defined(s.p999, 'the 99.9th percentile'), 999);
    close(s.max, 1000);
    close(s.mean, 500.5);
  });

  it('lies between the exact neighbouring ranks of any recordings, within 0.1 %', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 60_000, noNaN: true }), { minLength: 1 }),
        fc.constantFrom(50, 90, 99, 99.9),
        (values, p) => {
          const h = new Histogram();
          for (const v of values) h.record(v);
          const sorted = values
            .map((v) => Math.max(1, Math.round(v * 1000)) / 1000)
            .sort((a, b) => a - b);
          // Conventions differ on the rank of a percentile between two recordings (HdrHistogram
          // rounds it): either neighbour is right.
          const rank = (p / 100) * sorted.length;
          const low = defined(sorted[Math.max(0, Math.floor(rank) - 1)], 'the recording below');
          const high = defined(
            sorted[Math.min(sorted.length - 1, Math.ceil(rank) - 1)],
            'the recording above',
          );
          const got = h.percentile(p);
          expect(got).toBeGreaterThanOrEqual(low * 0.999 - 0.001);
          expect(got).toBeLessThanOrEqual(high * 1.001 + 0.001);
        },
      ),
    );
  });

  it('finds a slow tail: 1 % of requests at 2 s move p99.9, not p50 or p99', () => {
    const h = new Histogram();
    for (let i = 0; i < 990; i++) h.record(10);
    for (let i = 0; i < 10; i++) h.record(2000);

    close(h.percentile(50), 10);
    close(h.percentile(99), 10);
    expect(h.summary().p999).toBeGreaterThan(1990);
  });

  it('reports zeros when nothing was recorded', () => {
    expect(new Histogram().summary()).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });

  it('merges into the histogram of all recordings together', () => {
    const [a, b, both] = [new Histogram(), new Histogram(), new Histogram()];
    for (let ms = 1; ms <= 100; ms++) {
      (ms % 2 ? a : b).record(ms);
      both.record(ms);
    }

    expect(a.merge(b).summary()).toEqual(both.summary());
  });
});
