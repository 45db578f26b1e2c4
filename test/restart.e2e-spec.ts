/**
 * Every row of the profile table started again on the state it left, the way a user does it: the
 * runner (`npm run cluster`) started, stopped with Ctrl-C (SIGINT) or killed with SIGKILL, and
 * started again on the same work dir. Each time it must come up ready; a clean stop must leave
 * nothing running; after a SIGKILL the next start must stop what the killed runner left (no old
 * process survives it, no old port is held by anything but the new run); and the row's
 * `survivesClusterRestart` must hold both ways: sessions kept by a store on disk are there
 * again, sessions kept in memory are gone (the users, in Postgres, are not). A store that fails
 * over (`npm run cluster -- failover`) is failed over first, so the start after it must find out
 * who is primary now. A new row is covered without editing this file.
 *
 * Rows run two at a time (jest-e2e.config.js: maxConcurrency): they share nothing but the cores.
 */
import { describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guaranteesOf, profileNames, profileOf } from '../cluster/profiles.js';
import { isPortFree } from '../cluster/process/ports.js';
import { stillRunning } from '../cluster/process/process-tree.js';
import { defined } from '../src/common/defined.js';
import { ARTIFACTS } from './support/browser.js';
import { eventually } from './support/eventually.js';
import { expectKnownAfterRestart, freshSubnet } from './support/guarantee-checks.js';
import type { HttpClient } from './support/http-client.js';
import { heldBy, Runner, type RunFootprint } from './support/runner.js';
import { register, uniqueName } from './support/steps.js';

/** Two replicas: enough to ask "known on every replica?", and a quicker start. */
const ARGS = ['--replicas', '2'];

/** The ports the rows' nginx got: no two rows share one. */
const chosen = new Set<number>();

/**
 * A port for a row's nginx, kept across its three starts, below the kernel's ephemeral range:
 * the rows run at once, and every other runner asks the kernel for free ports (port 0), which
 * come from that range. One of them once took this row's port between two of its starts.
 */
async function portOfItsOwn(): Promise<number> {
  const [low = 32768] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
    .trim()
    .split(/\s+/)
    .map(Number);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (low - 20_000));
    if (!chosen.has(port) && (await isPortFree(port))) {
      chosen.add(port);
      return port;
    }
  }
  throw new Error(`no free port from 20000 to ${low}`);
}

interface LoggedIn {
  name: string;
  client: HttpClient;
}

/**
 * A new user, logged in. Right after a failover the replicas may still be finding the new
 * primary (503): such an attempt is retried, under a new name, for a few seconds.
 */
async function newLogin(run: Runner): Promise<LoggedIn> {
  let user: LoggedIn | undefined;
  let answer: { status: number; body?: unknown } = { status: 0 };
  await eventually(async () => {
    const attempt = { name: uniqueName('restart'), client: run.client(freshSubnet()) };
    const { status, body } = await register(attempt.client, attempt.name);
    answer = { status, body };
    if (status === 201) user = attempt;
    return status !== 503;
  }, 15_000);
  expect(answer).toMatchObject({ status: 201 });
  return defined(user, 'a registered user');
}

/**
 * Nothing of `before` runs; no process of the run in `workDir` holds its ports, but members of
 * `now` (kept ports). A port another row's run took since is not ours (see heldBy).
 */
async function expectGone(
  workDir: string,
  before: RunFootprint,
  now?: RunFootprint,
): Promise<void> {
  expect(await stillRunning(before.processes)).toEqual([]);
  const held = await heldBy(workDir, before.ports);
  expect(held.filter((port) => !now?.ports.includes(port))).toEqual([]);
}

describe('a cluster starts again on the state it left', () => {
  it.concurrent.each(profileNames)(
    '%s: after Ctrl-C, after a failover where the store has one, and after SIGKILL of the runner',
    async (name) => {
      const expected = guaranteesOf(profileOf(name)).survivesClusterRestart;
      const workDir = await mkdtemp(join(tmpdir(), `scaled-login-restart-${name}-`));
      const port = String(await portOfItsOwn());
      const args = ['--profile', name, '--port', port, '--work-dir', workDir, ...ARGS];
      let run: Runner | undefined;
      try {
        run = await Runner.start(args, workDir);
        const users = [await newLogin(run)];
        const failover = await run.control({ cmd: 'failover' });
        if (failover.ok)
          users.push(await newLogin(run)); // a session made after the failover
        else expect(failover.error).toMatch(/does not fail over/);

        // Ctrl-C: everything stops, and the next start finds what the store kept.
        const first = await run.footprint();
        expect(await run.stop('SIGINT')).toBe(0);
        await expectGone(workDir, first);
        run = await Runner.start(args, workDir);
        for (const user of users)
          await expectKnownAfterRestart(run, user.client, user.name, expected);

        // SIGKILL: the runner's servers outlive it; the next start stops them first.
        const late = await newLogin(run);
        const second = await run.footprint();
        expect(await run.stop('SIGKILL')).toBe(null);
        run = await Runner.start(args, workDir);
        expect(run.output).toMatch(/stopped what a killed runner had left running/);
        await expectGone(workDir, second, await run.footprint());
        await expectKnownAfterRestart(run, late.client, late.name, expected);

        const third = await run.footprint();
        expect(await run.stop('SIGINT')).toBe(0);
        run = undefined;
        await expectGone(workDir, third);
      } catch (error) {
        // What the replicas and nginx logged, for the reader of a failed run.
        await cp(join(workDir, 'logs'), join(ARTIFACTS, `restart-${name}`, 'logs'), {
          recursive: true,
        }).catch(() => undefined);
        await cp(join(workDir, 'nginx', 'logs'), join(ARTIFACTS, `restart-${name}`, 'nginx'), {
          recursive: true,
        }).catch(() => undefined);
        throw error;
      } finally {
        await run?.stop('SIGINT');
        await rm(workDir, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
