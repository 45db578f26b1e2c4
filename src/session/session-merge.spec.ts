import { describe, expect, it } from '@jest/globals';
import { apply, changesOf, diff, markLoaded, type Json } from './session-merge.js';

describe('diff / apply', () => {
  it('finds leaf changes, additions and deletions in nested objects', () => {
    const before = { a: 1, meta: { seen: 1, ip: 'x' }, gone: true } as Json;
    const after = { a: 1, meta: { seen: 2, ip: 'x' }, added: 'y' } as Json;
    expect(diff(before, after)).toEqual([
      { path: ['meta', 'seen'], value: 2 },
      { path: ['gone'] },
      { path: ['added'], value: 'y' },
    ]);
  });

  it('two writers changing different leaves both keep their change', () => {
    const loaded = { user: { name: 'old' }, meta: { seen: 1 } };
    const tabA = { user: { name: 'new' }, meta: { seen: 1 } };
    const tabB = { user: { name: 'old' }, meta: { seen: 2 } };
    // A saves first, then B, each applying only its own changes to what is stored.
    let stored = apply(structuredClone(loaded), diff(loaded, tabA));
    stored = apply(stored, diff(loaded, tabB));
    expect(stored).toEqual({ user: { name: 'new' }, meta: { seen: 2 } });
  });

  it('replaces arrays and scalars whole, and creates missing parents', () => {
    expect(apply({}, [{ path: ['x', 'y'], value: [1, 2] }])).toEqual({ x: { y: [1, 2] } });
    expect(diff({ l: [1] }, { l: [1, 2] })).toEqual([{ path: ['l'], value: [1, 2] }]);
  });
});

describe('changesOf', () => {
  it('is undefined for a session that was never loaded (a new one: written whole)', () => {
    expect(changesOf({ a: 1 })).toBeUndefined();
  });

  it('is the difference to what was loaded, ignoring the marker itself', () => {
    const session = { a: 1, b: { c: 2 } };
    markLoaded(session, JSON.stringify(session));
    session.b.c = 3;
    expect(JSON.stringify(session)).toBe('{"a":1,"b":{"c":3}}'); // marker is not serialized
    expect(changesOf(session)).toEqual([{ path: ['b', 'c'], value: 3 }]);
  });
});
