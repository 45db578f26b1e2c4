import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Envelope } from './envelope.js';
import { CLOCK_WINDOW_MS, ReplayGuard, SEQUENCE_WINDOW } from './replay-guard.js';

const NOW = 1_000_000_000;
const frame = (o: Partial<Envelope>): Envelope => ({
  v: 1,
  from: 'app-1',
  to: 'app-2',
  epoch: 5,
  seq: 1,
  ts: NOW,
  kind: 'msg',
  body: null,
  ...o,
});

describe('ReplayGuard', () => {
  it('accepts every sequence number once, in any order within the window', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { minLength: 1 }), (seqs) => {
        const guard = new ReplayGuard('app-2', () => NOW);
        for (const seq of seqs) expect(guard.check(frame({ seq }))).toBeUndefined();
        for (const seq of seqs) expect(guard.check(frame({ seq }))).toBe('replayed');
      }),
    );
  });

  it('refuses what fell out of the window, an earlier incarnation, a stale clock, a wrong address', () => {
    const guard = new ReplayGuard('app-2', () => NOW);
    expect(guard.check(frame({ seq: SEQUENCE_WINDOW + 10 }))).toBeUndefined();
    expect(guard.check(frame({ seq: 5 }))).toBe('replayed');
    expect(guard.check(frame({ epoch: 4, seq: 99_999 }))).toBe(
      'from an earlier incarnation of the sender',
    );
    expect(guard.check(frame({ seq: 99_999, ts: NOW - CLOCK_WINDOW_MS - 1 }))).toBe(
      'timestamp outside the window',
    );
    expect(guard.check(frame({ to: 'app-3', seq: 99_998 }))).toBe('addressed to another replica');
    expect(guard.check(frame({ from: 'app-2', seq: 99_997 }))).toBe(
      'claims to come from this replica',
    );
  });

  it('starts afresh for a restarted sender (a newer epoch)', () => {
    const guard = new ReplayGuard('app-2', () => NOW);
    expect(guard.check(frame({ seq: 100 }))).toBeUndefined();
    expect(guard.check(frame({ epoch: 6, seq: 1 }))).toBeUndefined();
    expect(guard.check(frame({ epoch: 5, seq: 101 }))).toBe(
      'from an earlier incarnation of the sender',
    );
  });
});
