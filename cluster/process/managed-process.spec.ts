import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import { pollUntil } from './poll.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'managed-process-spec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleeper = (nice?: number) =>
  ManagedProcess.start({
    name: 'sleeper',
    command: 'sleep',
    args: ['60'],
    logFile: join(dir, 'sleeper.log'),
    nice,
  });

/** The niceness and the program name the kernel reports for a PID. */
async function processOf(pid: number): Promise<{ nice: number; comm: string }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, so niceness (field 19) is at index 16.
  return { nice: Number(fields[16]), comm: (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() };
}

/** The niceness of the PID's autogroup ("/autogroup-N nice K"), null without autogroups. */
async function autogroupNice(pid: number): Promise<number | null> {
  const line = await readFile(`/proc/${pid}/autogroup`, 'utf8').catch(() => null);
  return line === null ? null : Number(/nice (-?\d+)/.exec(line)?.[1]);
}

describe('ManagedProcess niceness', () => {
  it('runs the command itself at the niceness asked for, under the PID it reports', async () => {
    const proc = await sleeper(7);
    try {
      // `nice` sets the niceness, then execs the command in its place: wait for that.
      const execd = await pollUntil(async () => (await processOf(proc.pid)).comm === 'sleep', {
        timeoutMs: 5000,
        intervalMs: 10,
      });
      expect(execd.ok).toBe(true);
      // Never below the runner's own niceness (raising it is all anyone may do).
      expect(await processOf(proc.pid)).toEqual({
        nice: Math.max(7, getPriority()),
        comm: 'sleep',
      });
      // And its session's autogroup, which is what the kernel weighs against other sessions.
      const own = await autogroupNice(process.pid);
      expect(await autogroupNice(proc.pid)).toBe(own === null ? null : 7);
    } finally {
      await proc.kill();
    }
  });

  it('runs at the runner’s own niceness when none is asked for', async () => {
    const proc = await sleeper();
    try {
      const own = await processOf(process.pid);
      expect(await processOf(proc.pid)).toEqual({ nice: own.nice, comm: 'sleep' });
    } finally {
      await proc.kill();
    }
  });

  it('says a program is not installed, niceness or not', async () => {
    for (const nice of [undefined, 5]) {
      await expect(
        ManagedProcess.start({
          name: 'ghost',
          command: 'no-such-program-here',
          logFile: join(dir, 'ghost.log'),
          nice,
        }),
      ).rejects.toThrow(/ENOENT.*not installed\?/);
    }
  });

  it('refuses a niceness that is not a whole number from 0 to 19, starting nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ max: -1 }),
          fc.integer({ min: 20 }),
          fc.double({ min: 0, max: 19, noInteger: true }),
          fc.constant(Number.NaN),
        ),
        async (nice) => {
          await expect(sleeper(nice)).rejects.toThrow(/niceness must be a whole number/);
        },
      ),
      { numRuns: 30 },
    );
    await expect(readFile(join(dir, 'sleeper.log'))).rejects.toThrow(/ENOENT/);
  });
});
