import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { ManagedProcess } from '../cluster/process/managed-process.js';
import { pollUntil } from '../cluster/process/poll.js';
import { processEntry } from '../cluster/process/process-tree.js';
import { ledgerOf } from '../cluster/work-dir.js';
import { defined } from '../src/common/defined.js';
import { isProfileName, profileNames, profileOf } from '../cluster/profiles.js';
import {
  explainFailure,
  peerTopologies,
  profileTopologies,
  sessionImports,
  sweepAbandonedWorkDirs,
  topologySpecs,
} from './topology.js';

const specOf = (name: string) => defined(topologySpecs[name], `topology ${name}`);

describe('topologySpecs', () => {
  it('has one profile topology per row of the profile table, in its order', () => {
    expect(profileTopologies).toEqual(profileNames);
  });

  it.each(profileNames)('%s: what it shows and where sessions live come from its row', (name) => {
    const spec = specOf(name);
    const row = profileOf(name);

    expect(spec).toMatchObject({ name, kind: 'profile', profile: name, login: true });
    expect(spec.what).toBe(row.shows);
    expect(spec.store).toBe(row.sessions);
    expect(spec.sessionCode[0]).toBe(`src/session/backends/${row.sessions}.backend.ts`);
  });

  it.each([...profileTopologies, ...peerTopologies])(
    '%s: its session code is there to count, and it runs on a profile of the table',
    (name) => {
      const spec = specOf(name);

      expect(spec.sessionCode.length).toBeGreaterThan(0);
      for (const file of spec.sessionCode) expect(existsSync(join(PROJECT_ROOT, file))).toBe(true);
      expect(isProfileName(spec.profile)).toBe(true);
    },
  );

  it('keeps peers and profiles apart', () => {
    for (const name of peerTopologies) expect(specOf(name).kind).toBe('peer');
    expect(peerTopologies.filter((p) => profileTopologies.includes(p))).toEqual([]);
  });
});

describe('sessionImports', () => {
  it('follows relative imports into the backends and src/replication/, transitively, not the shared record type', () => {
    const files: Record<string, string> = {
      'src/session/backends/x.backend.ts':
        "import { A } from '../../replication/a/a.js';\nimport { B } from './backend.js';\nimport { S } from './x-store.js';",
      'src/session/backends/x-store.ts': "import { D } from '../../common/d.js';",
      'src/replication/a/a.ts': "import type { C } from '../c.js';\nimport x from 'ws';",
      'src/replication/c.ts': "export { A } from './a/a.js';",
    };
    expect(sessionImports(['src/session/backends/x.backend.ts'], (f) => files[f] ?? '')).toEqual([
      'src/replication/a/a.ts',
      'src/replication/c.ts',
      'src/session/backends/x-store.ts',
    ]);
  });

  it("counts each replication profile's own manager, not the other's", () => {
    const code = (name: string) => specOf(name).sessionCode;
    expect(code('replicated')).toContain('src/replication/core/replicated/session-replicator.ts');
    expect(code('replicated')).not.toContain('src/replication/core/backup/backup-manager.ts');
    expect(code('backup')).toContain('src/replication/core/backup/backup-manager.ts');
    expect(code('redis').some((f) => f.startsWith('src/replication/'))).toBe(false);
    expect(code('redis-ha')).toContain('src/session/backends/redis-store.ts');
  });
});

describe('explainFailure', () => {
  it("adds the replicas' log lines for the failed reply's request id, and only those", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-explain-'));
    try {
      await writeFile(
        join(dir, 'app-2.log'),
        '{"requestId":"aa11","cause":"ETIMEDOUT: timeout exceeded"}\n{"requestId":"bb22"}\n',
      );
      await writeFile(join(dir, 'nginx.txt'), '"aa11" not a replica log\n');
      const failure = '503 {"statusCode":503,"requestId":"aa11"}';

      const text = await explainFailure(dir, failure);

      expect(text).toBe(
        `${failure}\n    logged: app-2.log: {"requestId":"aa11","cause":"ETIMEDOUT: timeout exceeded"}`,
      );
      expect(await explainFailure(dir, '500 no id here')).toBe('500 no id here');
      expect(await explainFailure(join(dir, 'gone'), failure)).toBe(failure);
      expect(await explainFailure(dir, undefined)).toBe('no reply');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sweepAbandonedWorkDirs', () => {
  const sleeper = (dir: string, name: string) =>
    ManagedProcess.start({
      name,
      command: 'sleep',
      args: ['60'],
      logFile: join(dir, `${name}.log`),
      ledger: ledgerOf(dir),
    });
  const owner = (dir: string, entry: object) =>
    writeFile(join(dir, 'runner.json'), JSON.stringify(entry) + '\n');

  it("stops a killed run's servers and removes its dir; a live run's, and one still opening, stay", async () => {
    const parent = await mkdtemp(join(tmpdir(), 'bench-sweep-'));
    const dir = (n: string) => join(parent, `scaled-login-bench-${n}-x`);
    const [dead, live, opening] = [dir('dead'), dir('live'), dir('opening')];
    await Promise.all([dead, live, opening].map((d) => mkdir(d)));
    const left = await sleeper(dead, 'nginx');
    const runner = await sleeper(live, 'runner');
    const server = await sleeper(live, 'redis');
    const starting = await sleeper(opening, 'postgres');
    try {
      // A runner that is gone: a PID that no process has, or one a later process reused.
      await owner(dead, { pid: left.pid, ppid: 1, state: 'S', startTime: '1' });
      await owner(live, defined(await processEntry(runner.pid), "the runner's process entry"));
      const other = join(parent, 'not-a-bench-dir');
      await mkdir(other);
      await owner(other, { pid: 1, ppid: 0, state: 'S', startTime: '1' });

      expect(await sweepAbandonedWorkDirs(parent)).toEqual([dead]);

      await pollUntil(async () => !left.running, { timeoutMs: 5000 });
      expect(left.running).toBe(false);
      expect(server.running && runner.running && starting.running).toBe(true);
      expect((await readdir(parent)).sort()).toEqual(
        ['not-a-bench-dir', 'scaled-login-bench-live-x', 'scaled-login-bench-opening-x'].sort(),
      );
      // Twice on the same state: nothing more to sweep.
      expect(await sweepAbandonedWorkDirs(parent)).toEqual([]);
    } finally {
      await Promise.all([left, runner, server, starting].map((p) => p.kill()));
      await rm(parent, { recursive: true, force: true });
    }
  });
});
