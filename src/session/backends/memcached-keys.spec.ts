import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { publicSessionId } from '../session.types.js';
import { attemptsKeyOf, isValidKey, nodeFor, sessionKeyOf } from './memcached-keys.js';

const nodes = ['127.0.0.1:11211', '127.0.0.1:11212'];

describe('memcached keys', () => {
  it('are valid for every session id and every attempt key, whatever their characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (input) => {
        expect(isValidKey(sessionKeyOf(publicSessionId(input)))).toBe(true);
        expect(isValidKey(attemptsKeyOf(input))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('tells apart attempt keys that differ', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(attemptsKeyOf(a)).not.toBe(attemptsKeyOf(b));
      }),
    );
  });

  it('rejects what memcached would refuse', () => {
    for (const bad of ['', 'a b', 'a\nb', 'a\x00b', 'x'.repeat(251), 'é']) {
      expect(isValidKey(bad)).toBe(false);
    }
    expect(isValidKey('x'.repeat(250))).toBe(true);
  });
});

describe('nodeFor (rendezvous hashing)', () => {
  const keys = Array.from({ length: 4000 }, (_, i) => sessionKeyOf(publicSessionId(`sid-${i}`)));

  it('spreads keys about evenly over the nodes', () => {
    const onFirst = keys.filter((k) => nodeFor(k, nodes) === 0).length;
    expect(onFirst / keys.length).toBeGreaterThan(0.45);
    expect(onFirst / keys.length).toBeLessThan(0.55);
  });

  it('picks the same node whatever order the nodes are listed in', () => {
    const reversed = [...nodes].reverse();
    for (const key of keys.slice(0, 500)) {
      expect(nodes[nodeFor(key, nodes)]).toBe(reversed[nodeFor(key, reversed)]);
    }
  });

  it('moves only the keys of a node that leaves, and a new node takes only its share', () => {
    const three = [...nodes, '127.0.0.1:11213'];
    let moved = 0;
    for (const key of keys) {
      const before = three[nodeFor(key, three)];
      const after = nodes[nodeFor(key, nodes)];
      if (before !== '127.0.0.1:11213') expect(after).toBe(before);
      else moved++;
    }
    expect(moved / keys.length).toBeGreaterThan(0.28);
    expect(moved / keys.length).toBeLessThan(0.39);
  });
});
