import { describe, expect, it } from '@jest/globals';
import type { StoreObserver } from '../cluster/services/index.js';
import {
  commandDelta,
  cpuDelta,
  storeCommandCounts,
  storeLabel,
  storeServiceOf,
  type CpuSnapshot,
} from './probes.js';

function observer(label: string, counts: Record<string, number>): StoreObserver {
  return {
    label,
    commandCounts: async () => new Map(Object.entries(counts)),
    usedMemory: async () => 0,
    close: async () => undefined,
  };
}

describe('store commands', () => {
  it('sums the counters of every server of the store, per command name', async () => {
    const counts = await storeCommandCounts([
      observer('Redis', { get: 10, set: 1 }),
      observer('Redis', { get: 5 }),
    ]);

    expect(Object.fromEntries(counts)).toEqual({ get: 15, set: 1 });
  });

  it('names several servers of one kind once, and different ones each', () => {
    expect(storeLabel([observer('Redis', {}), observer('Redis', {})])).toBe('Redis');
    expect(storeLabel([observer('Redis', {}), observer('Sentinel', {})])).toBe('Redis + Sentinel');
    expect(storeLabel([])).toBe('');
  });

  it('counts the commands run between two readings, and leaves out those that ran none', () => {
    const before = new Map([
      ['get', 100],
      ['set', 4],
    ]);
    const after = new Map([
      ['get', 160],
      ['set', 4],
      ['expire', 3],
    ]);

    expect(commandDelta(before, after)).toEqual({ get: 60, expire: 3 });
  });
});

describe('CPU parts', () => {
  it('counts replicas, nginx and Postgres as such, and every other service as the store’s', () => {
    expect(storeServiceOf({ kind: 'replica', service: 'app' })).toBeUndefined();
    expect(storeServiceOf({ kind: 'nginx', service: 'nginx' })).toBeUndefined();
    expect(storeServiceOf({ kind: 'postgres', service: 'postgres' })).toBeUndefined();
    expect(storeServiceOf({ kind: 'redis', service: 'redis' })).toBe('redis');
    expect(storeServiceOf({ kind: 'sentinel', service: 'redis-sentinel' })).toBe('redis-sentinel');
  });

  it('turns CPU milliseconds into cores over the window, the store’s by service', () => {
    const snapshot = (at: number, replicas: number, redis: number): CpuSnapshot => ({
      at,
      parts: new Map([
        ['replicas', replicas],
        ['machine', 2 * replicas],
      ]),
      stores: new Map([['redis', redis]]),
    });

    expect(cpuDelta(snapshot(0, 1000, 50), snapshot(1000, 2500, 70))).toEqual({
      replicas: 1.5,
      machine: 3,
      stores: { redis: 0.02 },
    });
  });

  it('never reports less than nothing for a process that exited in the window', () => {
    const before: CpuSnapshot = { at: 0, parts: new Map([['nginx', 500]]), stores: new Map() };
    const after: CpuSnapshot = { at: 1000, parts: new Map([['nginx', 100]]), stores: new Map() };

    expect(cpuDelta(before, after)).toEqual({ nginx: 0 });
  });
});
