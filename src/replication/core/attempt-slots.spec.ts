import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { AttemptSlots } from './attempt-slots.js';
import type { AttemptState } from './messages.js';
import { HybridClock } from './version.js';

const WINDOW = 60_000;
const NOW = 1_000_000;

describe('AttemptSlots', () => {
  it('counts every replica’s attempts together, whatever order the states arrive in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 30 }),
        fc.func(fc.integer()),
        (hits, order) => {
          const replica = (r: string) => ({
            slots: new AttemptSlots(r),
            clock: new HybridClock(r, () => NOW),
          });
          const replicas = { a: replica('a'), b: replica('b'), c: replica('c') };
          const sent: AttemptState[] = [];
          for (const r of hits) {
            const { slots, clock } = replicas[r];
            sent.push(structuredClone(slots.add('alice', 1, WINDOW, NOW, clock.tick())));
          }
          // Every replica receives every state, each in its own order, some twice.
          for (const { slots } of Object.values(replicas)) {
            const shuffled = [...sent, ...sent].sort((x, y) => order(x) - order(y));
            for (const state of shuffled) slots.merge(structuredClone(state));
            expect(slots.count('alice', NOW)).toBe(hits.length);
          }
        },
      ),
    );
  });

  it('a reset voids the slots written before it, on every replica; windows expire', () => {
    const a = new AttemptSlots('a');
    const b = new AttemptSlots('b');
    const ca = new HybridClock('a', () => NOW);
    const cb = new HybridClock('b', () => NOW);
    b.merge(structuredClone(a.add('k', 1, WINDOW, NOW, ca.tick())));
    a.merge(structuredClone(b.add('k', 1, WINDOW, NOW, cb.tick())));
    expect([a.count('k', NOW), b.count('k', NOW)]).toEqual([2, 2]);
    b.merge(structuredClone(a.reset('k', ca.tick())));
    expect([a.count('k', NOW), b.count('k', NOW)]).toEqual([0, 0]);
    a.add('k', 1, WINDOW, NOW, ca.tick());
    expect(a.count('k', NOW)).toBe(1);
    expect(a.count('k', NOW + WINDOW)).toBe(0);
  });
});
