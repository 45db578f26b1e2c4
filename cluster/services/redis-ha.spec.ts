import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '../../src/common/defined.js';
import { lastPrimary, SENTINEL_NAME } from './redis-ha.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'redis-ha-spec-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let runs = 0;

/** A redis-ha work dir as a run left it: the servers' config files and the Sentinels'. */
async function stateDir(o: {
  replicaOf: Array<number | undefined>;
  sentinels: Array<{ port: number; epoch: number } | undefined>;
}): Promise<string> {
  const dir = join(root, String(runs++));
  for (const [i, primary] of o.replicaOf.entries()) {
    await mkdir(join(dir, `redis-${i + 1}`), { recursive: true });
    const role = primary === undefined ? '' : `replicaof 127.0.0.1 ${primary}\n`;
    await writeFile(join(dir, `redis-${i + 1}`, 'redis.conf'), `${role}appendonly yes\n`);
  }
  for (const [i, s] of o.sentinels.entries()) {
    if (!s) continue;
    await mkdir(join(dir, `sentinel-${i + 1}`), { recursive: true });
    await writeFile(
      join(dir, `sentinel-${i + 1}`, 'sentinel.conf'),
      `port 1\nsentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${s.port} 2\n` +
        `sentinel config-epoch ${SENTINEL_NAME} ${s.epoch}\n`,
    );
  }
  return dir;
}

const book = (ports: Record<string, number>) => ({ previous: (name: string) => ports[name] });

describe('lastPrimary (who was primary when a redis-ha setup last ran)', () => {
  it('is what the Sentinel with the newest config epoch monitored, mapped by the last run’s ports, whatever the servers’ files say', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1024, max: 65535 }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.record({ primary: fc.constantFrom(0, 1), epoch: fc.nat(20) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(fc.option(fc.integer({ min: 1024, max: 65535 }), { nil: undefined }), {
          minLength: 2,
          maxLength: 2,
        }),
        async (ports, views, replicaOf) => {
          const portOf = (server: number) => defined(ports[server], `redis-${server + 1}'s port`);
          const dir = await stateDir({
            replicaOf,
            sentinels: views.map((v) => ({ port: portOf(v.primary), epoch: v.epoch })),
          });
          // Ties in the epoch: the first Sentinel read with it.
          const newest = views.reduce((a, b) => (b.epoch > a.epoch ? b : a));
          const last = book({ 'redis-ha/redis-1': portOf(0), 'redis-ha/redis-2': portOf(1) });
          expect(await lastPrimary(dir, last)).toBe(`redis-${newest.primary + 1}`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('without the last run’s ports (an older work dir): the one server not configured as a replica, else redis-1', async () => {
    const noPorts = book({});
    const sentinels = [{ port: 4000, epoch: 3 }];
    expect(
      await lastPrimary(await stateDir({ replicaOf: [4000, undefined], sentinels }), noPorts),
    ).toBe('redis-2');
    expect(
      await lastPrimary(await stateDir({ replicaOf: [undefined, 4000], sentinels }), noPorts),
    ).toBe('redis-1');
    // A failover whose old primary stayed down: both files say primary. Nothing tells them apart.
    expect(
      await lastPrimary(await stateDir({ replicaOf: [undefined, undefined], sentinels }), noPorts),
    ).toBe('redis-1');
    expect(await lastPrimary(join(root, 'never-started'), noPorts)).toBe('redis-1');
  });
});
