import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '../src/common/defined.js';
import { freePort } from './process/ports.js';
import { processEntry } from './process/process-tree.js';
import { discardState, openWorkDir, PortBook } from './work-dir.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'work-dir-spec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PortBook', () => {
  it("gives a server its last run's port again while it is free, and says what the last run had", async () => {
    const file = join(dir, 'ports.json');
    const first = await PortBook.open(file);
    const port = await first.take('redis');
    expect(first.previous('redis')).toBeUndefined();

    const second = await PortBook.open(file);
    expect(second.previous('redis')).toBe(port);
    expect(await second.take('redis')).toBe(port);
    // Another book's server does not get it, however recently it was handed out.
    expect(await (await PortBook.open(join(dir, 'other.json'))).take('redis')).not.toBe(port);
  });

  it('gives another port when the last one is taken now, and keeps it for the next run', async () => {
    const file = join(dir, 'ports.json');
    const taken = await freePort();
    await writeFile(file, JSON.stringify({ postgres: taken }));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    try {
      const book = await PortBook.open(file);
      const port = await book.take('postgres');
      expect(port).not.toBe(taken);
      expect(book.previous('postgres')).toBe(taken);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ postgres: port });
    } finally {
      blocker.close();
    }
  });

  it('keeps a port under the limit it is given (a Cluster node: its bus port is +10000)', async () => {
    const book = await PortBook.open(join(dir, 'ports.json'));
    for (let i = 0; i < 20; i++)
      expect(await book.take(`node-${i}`, { max: 55535, plus: 10000 })).toBeLessThanOrEqual(55535);
  });

  it('reads a damaged book as empty, and drops entries that are not ports', async () => {
    const file = join(dir, 'ports.json');
    await writeFile(file, '{"a": 80, "b": "x", "c": 70000, "d": 1.5');
    expect((await PortBook.open(file)).previous('a')).toBeUndefined();
    await writeFile(file, '{"a": 8080, "b": "x", "c": 70000, "d": 1.5}');
    const book = await PortBook.open(file);
    expect(['a', 'b', 'c', 'd'].map((k) => book.previous(k))).toEqual([
      8080,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('work dir', () => {
  it('--fresh empties a cluster work dir, of the older layout (no marker) or of this one', async () => {
    await mkdir(join(dir, 'logs'));
    await writeFile(join(dir, 'logs', 'migrate.log'), 'schema is up to date\n');
    await mkdir(join(dir, 'redis-ha', 'redis-1'), { recursive: true });
    await writeFile(join(dir, 'redis-ha', 'redis-1', 'redis.conf'), 'replicaof 127.0.0.1 1\n');
    const first = await openWorkDir(dir, { fresh: true });
    await first.release();
    expect(await readdir(dir)).toEqual(['state.json']);
    await writeFile(join(dir, 'session-secret'), 'x'.repeat(40));
    await (await openWorkDir(dir, { fresh: true })).release();
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('refuses to start in, or discard, a folder with files that is not a cluster work dir', async () => {
    await mkdir(join(dir, 'logs'));
    await writeFile(join(dir, 'thesis.tex'), 'years of work');
    await expect(openWorkDir(dir)).rejects.toThrow(/not a cluster's work dir.*new or empty folder/);
    await expect(discardState(dir)).rejects.toThrow(/not a cluster's work dir/);
    expect((await readdir(dir)).sort()).toEqual(['logs', 'thesis.tex']);
  });

  it('lets one runner at a time use it: another live one is refused, a dead one is not', async () => {
    const other = spawn('sleep', ['30']);
    try {
      const pid = defined(other.pid, "sleep's PID");
      const entry = defined(await processEntry(pid), "sleep's process");
      await writeFile(join(dir, 'state.json'), '{"format":1}');
      await writeFile(join(dir, 'runner.json'), JSON.stringify(entry));
      await expect(openWorkDir(dir)).rejects.toThrow(`another runner (pid ${pid}) is using`);
      // The same PID with another start time: a later process, not that runner.
      await writeFile(join(dir, 'runner.json'), JSON.stringify({ ...entry, startTime: '1' }));
      const opened = await openWorkDir(dir);
      expect(JSON.parse(await readFile(join(dir, 'runner.json'), 'utf8'))).toMatchObject({
        pid: process.pid,
      });
      await opened.release();
      expect(await readdir(dir)).not.toContain('runner.json');
    } finally {
      other.kill('SIGKILL');
    }
  });
});
