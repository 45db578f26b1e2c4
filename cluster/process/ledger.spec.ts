import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '../../src/common/defined.js';
import { ProcessLedger } from './ledger.js';
import { ManagedProcess } from './managed-process.js';
import { pollUntil } from './poll.js';
import { descendantsOf, processEntry, stillRunning } from './process-tree.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-spec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleeper = (ledger: ProcessLedger) =>
  ManagedProcess.start({
    name: 'sleeper',
    command: 'sleep',
    args: ['60'],
    logFile: join(dir, 'sleeper.log'),
    ledger,
  });

/** A shell that forks a child and ignores SIGTERM: a server that needs the SIGKILL. */
const stubborn = (ledger: ProcessLedger) =>
  ManagedProcess.start({
    name: 'stubborn',
    command: 'sh',
    args: ['-c', "trap '' TERM; sleep 60 & wait"],
    logFile: join(dir, 'stubborn.log'),
    ledger,
  });

describe('ProcessLedger', () => {
  it('holds a process while it runs and lets go when it exits', async () => {
    const ledger = new ProcessLedger(join(dir, 'processes'));
    const proc = await sleeper(ledger);
    expect((await ledger.leftovers()).map((e) => [e.name, e.pid])).toEqual([['sleeper', proc.pid]]);
    await proc.stop(); // resolves once the process is gone, and its entry with it
    expect(await readdir(ledger.dir)).toEqual([]);
  });

  it('sweep stops what an owner that died left: its stop signal, then SIGKILL, and what it forked', async () => {
    const ledger = new ProcessLedger(join(dir, 'processes'));
    const proc = await stubborn(ledger);
    const forked = async () => (await descendantsOf(proc.pid)).length === 1; // sh runs sleep
    expect((await pollUntil(forked, { timeoutMs: 5000 })).ok).toBe(true);
    const entry = defined(await processEntry(proc.pid), "the stubborn process's entry");
    const tree = [entry, ...(await descendantsOf(proc.pid))];
    expect(tree.length).toBe(2);
    // As if our process had died: a later runner knows only the ledger.
    const later = new ProcessLedger(ledger.dir);
    const swept = await later.sweep(500);
    expect(swept.map((e) => e.pid)).toEqual([proc.pid]);
    expect(await stillRunning(tree)).toEqual([]);
    expect(await later.leftovers()).toEqual([]);
  });

  it('ignores an entry whose PID now belongs to another process, and a half-written entry', async () => {
    const ledger = new ProcessLedger(join(dir, 'processes'));
    const proc = await sleeper(ledger);
    try {
      const entry = JSON.stringify({
        pid: proc.pid,
        startTime: '1',
        name: 'old',
        stopSignal: 'SIGTERM',
        startedAt: 0,
      });
      await writeFile(join(ledger.dir, `${proc.pid}.json`), entry);
      await writeFile(join(ledger.dir, '12345.json'), '{"pid": 123');
      expect(await ledger.sweep()).toEqual([]);
      expect(proc.running).toBe(true);
    } finally {
      await proc.kill();
    }
  });
});
