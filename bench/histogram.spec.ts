import { describe, expect, it } from '@jest/globals';
import { bucketOf, bucketValue, Histogram } from './histogram.js';

describe('Histogram', () => {
  it('keeps every bucket within 1/32 of the values it holds', () => {
    for (const micros of [0, 1, 63, 64, 65, 100, 1_000, 12_345, 999_999, 3.7e9]) {
      const middle = bucketValue(bucketOf(micros));
      expect(Math.abs(middle - micros)).toBeLessThanOrEqual(Math.max(0.5, micros / 32));
    }
  });

  it('numbers buckets without gaps or overlaps as values grow', () => {
    let previous = bucketOf(0);
    for (let micros = 1; micros < 100_000; micros++) {
      const index = bucketOf(micros);
      expect(index - previous).toBeGreaterThanOrEqual(0);
      expect(index - previous).toBeLessThanOrEqual(1);
      previous = index;
    }
  });

  it('reports percentiles of a known distribution within 3 %', () => {
    const h = new Histogram();
    for (let ms = 1; ms <= 1000; ms++) h.record(ms);

    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(Math.abs(s.p50 - 500) / 500).toBeLessThan(0.03);
    expect(Math.abs(s.p90 - 900) / 900).toBeLessThan(0.03);
    expect(Math.abs(s.p99 - 990) / 990).toBeLessThan(0.03);
    expect(s.max).toBe(1000);
    expect(s.mean).toBeCloseTo(500.5, 5);
  });

  it('never reports a percentile above the largest value recorded', () => {
    const h = new Histogram();
    h.record(100.001);

    expect(h.percentile(99)).toBeLessThanOrEqual(100.001);
    expect(h.percentile(50)).toBeGreaterThan(97);
  });

  it('finds a slow tail: 1 % of requests at 2 s move p99, not p50', () => {
    const h = new Histogram();
    for (let i = 0; i < 990; i++) h.record(10);
    for (let i = 0; i < 10; i++) h.record(2000);

    expect(h.percentile(50)).toBeCloseTo(10, 0);
    expect(h.percentile(99)).toBeCloseTo(10, 0);
    expect(h.percentile(99.5)).toBeGreaterThan(1900);
  });

  it('reports zeros when nothing was recorded', () => {
    expect(new Histogram().summary()).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
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
