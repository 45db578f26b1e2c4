import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '../../src/common/defined.js';
import { prepareNodeState } from './redis-cluster.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'redis-cluster-spec-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let runs = 0;
const freshDir = async () => {
  const dir = join(root, String(runs++));
  for (let n = 1; n <= 6; n++) await mkdir(join(dir, `redis-${n}`), { recursive: true });
  return dir;
};

const port = fc.integer({ min: 1024, max: 55535 });
const ports6 = fc.uniqueArray(port, { minLength: 6, maxLength: 6 });
const id = fc.stringMatching(/^[0-9a-f]{40}$/);
/** A formed cluster as nodes.conf files say it: ids, the ports they were written with, roles. */
const cluster = fc.record({
  ids: fc.uniqueArray(id, { minLength: 6, maxLength: 6 }),
  oldPorts: ports6,
  newPorts: ports6,
  hostnames: fc.boolean(),
  // Which three nodes are masters (the others replicate them in order), and who is down.
  masters: fc.shuffledSubarray([0, 1, 2, 3, 4, 5], { minLength: 3, maxLength: 3 }),
  down: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
});
type Cluster = typeof cluster extends fc.Arbitrary<infer T> ? T : never;

function nodeLines(c: Cluster, self: number, ports: readonly number[]): string[] {
  const replicas = [0, 1, 2, 3, 4, 5].filter((i) => !c.masters.includes(i));
  const slots = ['0-5460', '5461-10922', '10923-16383'];
  return c.ids.map((nodeId, i) => {
    const m = c.masters.indexOf(i);
    const flags = [...(i === self ? ['myself'] : []), m >= 0 ? 'master' : 'slave'];
    const ofMaster = c.masters[replicas.indexOf(i)]; // a master's own: none (indexOf is -1)
    const master = ofMaster === undefined ? '-' : defined(c.ids[ofMaster], `node ${i}'s master`);
    const host = c.hostnames ? `,redis-cluster-${i + 1}` : '';
    const link = c.down[i] ? 'disconnected' : 'connected';
    const port = defined(ports[i], `node ${i}'s port`);
    const address = `127.0.0.1:${port}@${port + 10000}${host}`;
    return [
      nodeId,
      address,
      flags.join(','),
      master,
      0,
      1796537916500,
      7,
      link,
      ...(m >= 0 ? [slots[m]] : []),
    ].join(' ');
  });
}

const vars = 'vars currentEpoch 7 lastVoteEpoch 0';

describe('prepareNodeState (a Redis Cluster started again on its nodes.conf files)', () => {
  it('points every entry of every node at the ports the nodes have now, and changes nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(cluster, async (c) => {
        const dir = await freshDir();
        for (let n = 0; n < 6; n++)
          await writeFile(
            join(dir, `redis-${n + 1}`, 'nodes.conf'),
            [...nodeLines(c, n, c.oldPorts), vars, ''].join('\n'),
          );
        expect(await prepareNodeState(dir, c.newPorts)).toBe('formed');
        for (let n = 0; n < 6; n++) {
          const text = await readFile(join(dir, `redis-${n + 1}`, 'nodes.conf'), 'utf8');
          expect(text).toBe([...nodeLines(c, n, c.newPorts), vars, ''].join('\n'));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('says "new" for nodes that know only themselves (or have no file yet)', async () => {
    await fc.assert(
      fc.asyncProperty(
        cluster,
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        async (c, written) => {
          const dir = await freshDir();
          for (let n = 0; n < 6; n++)
            if (written[n])
              await writeFile(
                join(dir, `redis-${n + 1}`, 'nodes.conf'),
                [nodeLines(c, n, c.oldPorts)[n], vars, ''].join('\n'),
              );
          expect(await prepareNodeState(dir, c.newPorts)).toBe('new');
        },
      ),
      { numRuns: 30 },
    );
  });

  it('takes a formed cluster with new nodes after it (one replica per master before) as formed', async () => {
    await fc.assert(
      fc.asyncProperty(
        cluster,
        fc.uniqueArray(port, { minLength: 9, maxLength: 9 }),
        // Each new node: never started (an empty folder) or started once, knowing only itself.
        fc.array(fc.option(id, { nil: undefined }), { minLength: 3, maxLength: 3 }),
        async (c, now, newIds) => {
          const dir = await freshDir();
          for (let n = 0; n < 6; n++)
            await writeFile(
              join(dir, `redis-${n + 1}`, 'nodes.conf'),
              [...nodeLines(c, n, c.oldPorts), vars, ''].join('\n'),
            );
          const lone = newIds.map((nodeId, i) => {
            if (nodeId === undefined) return undefined;
            const p = defined(now[6 + i], `new node ${i}'s port`);
            const line = `${nodeId} 127.0.0.1:${p}@${p + 10000} myself,master - 0 0 0 connected`;
            return [line, vars, ''].join('\n');
          });
          for (let n = 7; n <= 9; n++) {
            await mkdir(join(dir, `redis-${n}`), { recursive: true });
            const text = lone[n - 7];
            if (text !== undefined) await writeFile(join(dir, `redis-${n}`, 'nodes.conf'), text);
          }

          expect(await prepareNodeState(dir, now)).toBe('formed');
          for (let n = 0; n < 6; n++) {
            const text = await readFile(join(dir, `redis-${n + 1}`, 'nodes.conf'), 'utf8');
            expect(text).toBe([...nodeLines(c, n, now.slice(0, 6)), vars, ''].join('\n'));
          }
          for (let n = 7; n <= 9; n++) {
            const text = await readFile(join(dir, `redis-${n}`, 'nodes.conf'), 'utf8').catch(
              () => undefined,
            );
            expect(text).toBe(lone[n - 7]);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses a formed prefix that is no earlier layout (an interrupted create)', async () => {
    await fc.assert(
      fc.asyncProperty(
        cluster,
        fc.uniqueArray(port, { minLength: 9, maxLength: 9 }),
        fc.integer({ min: 2, max: 5 }),
        async (c, now, formed) => {
          const dir = await freshDir();
          // The first `formed` nodes know each other (and nobody else); the rest only themselves.
          for (let n = 0; n < formed; n++) {
            const lines = nodeLines(c, n, c.oldPorts).slice(0, formed);
            await writeFile(
              join(dir, `redis-${n + 1}`, 'nodes.conf'),
              [...lines, vars, ''].join('\n'),
            );
          }
          for (let n = formed + 1; n <= 9; n++)
            await mkdir(join(dir, `redis-${n}`), { recursive: true });
          await expect(prepareNodeState(dir, now)).rejects.toThrow(/partial.*--fresh/);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses a partial cluster (some nodes in it, some not), saying how to discard it', async () => {
    await fc.assert(
      fc.asyncProperty(cluster, fc.integer({ min: 1, max: 5 }), async (c, formed) => {
        const dir = await freshDir();
        for (let n = 0; n < 6; n++) {
          const lines = nodeLines(c, n, c.oldPorts);
          await writeFile(
            join(dir, `redis-${n + 1}`, 'nodes.conf'),
            [...(n < formed ? lines : [lines[n]]), vars, ''].join('\n'),
          );
        }
        await expect(prepareNodeState(dir, c.newPorts)).rejects.toThrow(/partial.*--fresh/);
      }),
      { numRuns: 30 },
    );
  });
});
