import { describe, expect, it } from '@jest/globals';
import { loadSummary } from '../result-fixture.js';
import type { ThroughputSample } from '../results.js';
import { aggregateThroughput, medianCpu } from './throughput.js';

const sample = (over: Partial<ThroughputSample> = {}): ThroughputSample => ({
  load: loadSummary({ requests: 1000, seconds: 10 }),
  postgresStatements: 0,
  cpu: { replicas: 1 },
  ...over,
});

describe('aggregateThroughput', () => {
  it('divides the store’s commands, summed over the runs, by every read, under its label', () => {
    const result = aggregateThroughput([
      sample({ storeCommands: { label: 'Redis', byName: { get: 1000 } } }),
      sample({ storeCommands: { label: 'Redis', byName: { get: 1000, expire: 500 } } }),
    ]);

    expect(result.storeCommandsPerRead).toEqual({
      label: 'Redis',
      total: 1.25,
      byName: { get: 1, expire: 0.25 },
    });
  });

  it('has no store figure where no store was observed', () => {
    expect(aggregateThroughput([sample(), sample()]).storeCommandsPerRead).toBeUndefined();
  });

  it('takes the replicas’ CPU per read from every run together', () => {
    // 1 core for 10 s over 1,000 reads, twice: 10 ms each.
    expect(aggregateThroughput([sample(), sample()]).replicaCpuMicrosPerRead).toBe(10_000);
  });
});

describe('medianCpu', () => {
  it('takes the median of each part, the store’s services included, over the runs that have it', () => {
    const cpu = medianCpu([
      { replicas: 1, nginx: 0.1, stores: { redis: 0.01 } },
      { replicas: 3, nginx: 0.3, stores: { redis: 0.03 } },
      { replicas: 2, stores: { redis: 0.02 } },
    ]);

    expect(cpu).toEqual({ replicas: 2, nginx: 0.2, stores: { redis: 0.02 } });
  });

  it('leaves the store out where no run had one', () => {
    expect(medianCpu([{ replicas: 1 }, { replicas: 2 }])).toEqual({ replicas: 1.5 });
  });
});
