import { describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uptimeOf } from './snapshot.js';
import { Timeline } from './timeline.js';
import { AccessLogTraffic } from './traffic.js';

const line = (upstream: string) =>
  `127.0.0.1 [29/Nov/2026:18:00:00 +0000] "GET /api/whoami HTTP/1.1" 200 80 0.002 id=abc upstream=${upstream}\n`;

describe('AccessLogTraffic', () => {
  it('counts new lines per answering upstream (the last one tried), whole lines only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'traffic-'));
    const log = join(dir, 'access.log');
    try {
      await writeFile(log, line('127.0.0.1:1') + line('127.0.0.1:1')); // before the start: not counted
      const traffic = new AccessLogTraffic(log);
      await traffic.tick();
      await appendFile(
        log,
        line('127.0.0.1:1') +
          line('127.0.0.1:2, 127.0.0.1:3') + // a failover: 3 answered
          line('127.0.0.1:3') +
          'half a line upstream=127.0.0.1:1',
      );
      await traffic.tick();
      // Averaged over the two ticks of the window.
      expect(Object.fromEntries(traffic.rates())).toEqual({ '127.0.0.1:1': 0.5, '127.0.0.1:3': 1 });
      await appendFile(log, '\n');
      await traffic.tick();
      // The window is now the last two ticks: one line before, the completed half line now.
      expect(Object.fromEntries(traffic.rates())).toEqual({ '127.0.0.1:1': 1, '127.0.0.1:3': 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts nothing while the log does not exist', async () => {
    const traffic = new AccessLogTraffic('/nonexistent/access.log');
    await traffic.tick();
    expect(traffic.rates().size).toBe(0);
  });
});

describe('Timeline', () => {
  it('blames a logout on the latest event, and on none when that is long past', () => {
    const t = new Timeline();
    t.add('app-2', 'killed (SIGKILL)', 1_000);
    t.loggedOut(2_000);
    t.loggedOut(3_000);
    t.add('app-2', 'up again (pid 7)', 10_000);
    t.loggedOut(11_000);
    t.loggedOut(60_000); // 50 s later: not this event's doing
    expect(t.list().map((e) => [e.what, e.loggedOut])).toEqual([
      ['killed (SIGKILL)', 2],
      ['up again (pid 7)', 1],
    ]);
    expect(t.unexplained).toBe(1);
  });
});

describe('uptimeOf', () => {
  it("reads a live process's age from /proc, and null for none", async () => {
    const age = await uptimeOf(process.pid);
    if (age === null) throw new Error('expected an age for this process');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(3600);
    expect(await uptimeOf(null)).toBeNull();
    expect(await uptimeOf(2 ** 22 + 1)).toBeNull(); // above pid_max: no such process
  });
});
