import { describe, expect, it } from '@jest/globals';
import { benchResult, topology } from './result-fixture.js';
import { renderSpread, spreadOf, spreadRows } from './spread.js';

describe('run to run', () => {
  it('measures a spread as (max − min) ÷ median, over finite values only', () => {
    expect(spreadOf([1, 1, 1])).toBe(0);
    expect(spreadOf([0.9, 1, 1.2])).toBeCloseTo(0.3);
    expect(spreadOf([2, NaN, 4])).toBeCloseTo(2 / 3);
    expect(spreadOf([5])).toBeNaN();
  });

  it('compares each topology against the fastest of its own run, and the targets by their number', () => {
    const run = (redis: number, sticky: number) =>
      benchResult([
        topology('bare', {}, { rps: 10_000 * (redis / 3000) }),
        topology('sticky', {}, { rps: sticky }),
        topology('redis', {}, { rps: redis }),
      ]);
    // The second run is twice as slow in every topology: the shares and ratios do not move.
    const runs = [run(3000, 3000), run(1500, 1500)];
    const rows = spreadRows(runs);
    expect(rows.find((r) => r.figure.startsWith('redis:'))?.values).toEqual([0.3, 0.3]);
    expect(rows.find((r) => r.figure.startsWith('T3:'))?.values).toEqual([1, 1]);
    const table = renderSpread(runs);
    expect(table).toContain(
      '| T3: `redis` throughput ÷ `sticky` throughput | 1.000 | 1.000 | 0 % |',
    );
    // A target one run could not measure is a dash, and the spread is taken over the rest.
    const partial = renderSpread([run(3000, 3000), benchResult([topology('bare')])]);
    expect(partial).toContain('| T3: `redis` throughput ÷ `sticky` throughput | 1.000 | – | – |');
  });
});
