/**
 * The runner's work dirs and ports, as a user meets them: a work dir an older version left
 * (test/fixtures/old-work-dir: store state naming the ports of its run, no port book, a stale
 * control socket), `--fresh` to discard one, two clusters side by side from one checkout with
 * nothing but two `--port`s, and `stop` when the runner itself was killed.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { access, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../cluster/paths.js';
import { freePort } from '../cluster/process/ports.js';
import { stillRunning } from '../cluster/process/process-tree.js';
import { clusterNodes } from '../cluster/services/redis-cluster.js';
import { profileNames } from '../cluster/profiles.js';
import { defined } from '../src/common/defined.js';
import { freshSubnet } from './support/guarantee-checks.js';
import { CLI, Runner } from './support/runner.js';
import { login, register, uniqueName, whoami } from './support/steps.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'old-work-dir');

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A Unix socket file nobody listens on: what a runner killed with SIGKILL leaves. */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
}

/** `npm run cluster -- <args>` that finishes (stop, status, ...): its exit code and output. */
function cli(args: string[]): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return { code: r.status, output: r.stdout + r.stderr };
}

describe('npm run cluster: work dirs and ports', () => {
  it('starts on a work dir an older version left (old ports in the stores’ own state, a stale control socket); --fresh discards it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scaled-login-old-work-dir-'));
    let run: Runner | undefined;
    try {
      await cp(FIXTURE, dir, { recursive: true });
      await staleSocket(join(dir, 'control.sock'));
      const port = String(await freePort());
      const args = (profile: string) => [
        '--profile',
        profile,
        '--port',
        port,
        '--work-dir',
        dir,
        '--replicas',
        '2',
      ];

      // Redis Cluster: the formed cluster comes back on this run's ports, without a new create.
      run = await Runner.start(args('redis-cluster'), dir);
      const client = run.client(freshSubnet());
      const name = uniqueName('old-dir');
      expect((await register(client, name)).status).toBe(201);
      expect(await exists(join(dir, 'logs', 'redis-cluster-create.log'))).toBe(false);
      const nodePorts = (await run.status()).filter((m) => m.kind === 'redis').map((m) => m.port);
      const nodesConf = await readFile(join(dir, 'redis-cluster', 'redis-1', 'nodes.conf'), 'utf8');
      for (const p of nodePorts) expect(nodesConf).toContain(`127.0.0.1:${p}@${p + 10000}`);
      // The fixture had one replica per master; the three new nodes made it two each.
      const known = await clusterNodes(nodePorts);
      const masters = known.filter((n) => n.master && n.slots.length > 0);
      expect(masters).toHaveLength(3);
      for (const m of masters) expect(known.filter((n) => n.masterId === m.id)).toHaveLength(2);
      expect(await run.stop('SIGINT')).toBe(0);

      // Sentinel: the server the old state left as primary (redis-2) is primary again.
      run = await Runner.start(args('redis-ha'), dir);
      const failover = await run.control({ cmd: 'failover' });
      expect(failover).toMatchObject({
        ok: true,
        message: expect.stringMatching(/^redis-2 killed/),
      });
      expect(await run.stop('SIGINT')).toBe(0);

      // --fresh: a new cluster (created anew), and no user of before.
      run = await Runner.start([...args('redis-cluster'), '--fresh'], dir);
      expect(await exists(join(dir, 'logs', 'redis-cluster-create.log'))).toBe(true);
      expect((await login(run.client(freshSubnet()), name)).status).toBe(401);
      expect(await run.stop('SIGINT')).toBe(0);
      run = undefined;
    } finally {
      await run?.stop('SIGINT');
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('runs two clusters from one checkout with nothing but two --ports; stop ends what a killed runner left', async () => {
    const ports = [await freePort(), await freePort()];
    // Each runner: a profile of its own, and the work dir it picks for its port.
    const sides = ports.map((port, i) => ({
      port,
      profile: defined(profileNames[i], `a profile for runner ${i + 1}`),
      dir: join(PROJECT_ROOT, `.cluster-${port}`),
    }));
    const runs: Runner[] = [];
    try {
      const started = await Promise.all(
        sides.map((s) => Runner.start(['--profile', s.profile, '--port', String(s.port)], s.dir)),
      );
      runs.push(...started);
      for (const [i, run] of runs.entries()) {
        const { port, profile, dir } = defined(sides[i], `runner ${i + 1}'s port and profile`);
        expect(run.url).toBe(`http://127.0.0.1:${port}`);
        const client = run.client(freshSubnet());
        expect((await register(client, uniqueName('side-by-side'))).status).toBe(201);
        expect((await whoami(client)).body).toMatchObject({ profile });
        expect(await exists(join(dir, 'control.sock'))).toBe(true);
      }
      const first = defined(runs[0], 'the first runner');
      const second = defined(runs[1], 'the second runner');

      // The first runner is killed; `stop --port` finds what it left and stops it.
      const left = await first.footprint();
      expect(await first.stop('SIGKILL')).toBe(null);
      expect((await stillRunning(left.processes)).length).toBeGreaterThan(0);
      const stop = cli(['stop', '--port', String(ports[0])]);
      expect(stop).toMatchObject({
        code: 0,
        output: expect.stringMatching(/stopped what it had left running/),
      });
      expect(await stillRunning(left.processes)).toEqual([]);
      // The second one was not touched.
      expect((await whoami(second.client(freshSubnet()))).status).toBe(200);
      expect(cli(['stop', '--port', String(ports[1])]).code).toBe(0);
      expect(await second.stop('SIGINT')).toBe(0); // it had stopped by itself, cleanly
    } finally {
      for (const run of runs) await run.stop('SIGINT');
      for (const { dir } of sides) await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
