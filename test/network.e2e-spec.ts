/**
 * The network mode's network (cluster/network/namespaces.ts), on the real kernel: members that
 * reach each other over a bridge of their own, a root namespace that cannot reach them, faults as
 * kernel rules, clean-up after a crash, two networks at once. As root, as CI runs; the refusal
 * without root is a unit spec (cluster/network/namespaces.spec.ts).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NetworkModeError } from '../cluster/network/errors.js';
import { NamespaceNetwork } from '../cluster/network/namespaces.js';

const run = promisify(execFile);
const PROBE = join(import.meta.dirname, 'support', 'net-probe.mjs');
const PORT = 7000;
const isRoot = process.getuid?.() === 0;

async function probe(network: NamespaceNetwork, member: string, args: string[]): Promise<string> {
  const [program, ...rest] = network.wrap(member, [process.execPath, PROBE, ...args]);
  const { stdout } = await run(program ?? 'ip', rest);
  return stdout.trim();
}

/** A TCP and UDP listener on each member's address; stop() resolves the UDP datagrams counted. */
async function listeners(network: NamespaceNetwork) {
  const children = new Map<string, ChildProcess>();
  for (const m of network.members) {
    const [program, ...rest] = network.wrap(m, [
      ...[process.execPath, PROBE, 'listen', network.address(m), String(PORT)],
    ]);
    const child = spawn(program ?? 'ip', rest, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.set(m, child);
    await once(child.stdout, 'data');
  }
  return {
    async stop(member: string): Promise<number> {
      const child = children.get(member);
      if (!child) throw new Error(`no listener in ${member}`);
      children.delete(member);
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
      if (child.exitCode !== null) throw new Error(`the listener in ${member} has exited`);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      return Number(out.trim());
    },
    async stopAll(): Promise<void> {
      for (const m of [...children.keys()]) await this.stop(m);
    },
  };
}

const reaches = (network: NamespaceNetwork, from: string, to: string) =>
  probe(network, from, ['connect', network.address(to), String(PORT), '500']);

(isRoot ? describe : describe.skip)('the network mode (as root)', () => {
  const dirs: string[] = [];
  const networks: NamespaceNetwork[] = [];
  const recordIn = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'netns-'));
    dirs.push(dir);
    return join(dir, 'network.json');
  };
  const create = async (members: string[], record?: string) => {
    const network = await NamespaceNetwork.create(members, record ?? (await recordIn()));
    networks.push(network);
    return network;
  };
  afterAll(async () => {
    for (const n of networks) await n.destroy();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('joins the members, and the root namespace has no route to them', async () => {
    const network = await create(['a', 'b', 'c']);
    const l = await listeners(network);
    try {
      expect(await reaches(network, 'a', 'b')).toBe('ok');
      expect(await reaches(network, 'c', 'a')).toBe('ok');
      const { stderr } = await run('ip', ['route', 'get', network.address('b')]).catch(
        (err: unknown) => err as { stderr: string },
      );
      expect(stderr).toMatch(/unreachable|No route/i);
      const fromRoot = await new Promise<string>((resolve) => {
        const s = net.connect({ host: network.address('b'), port: PORT });
        s.on('connect', () => {
          s.destroy();
          resolve('ok');
        });
        s.on('error', (err: NodeJS.ErrnoException) => {
          resolve(err.code ?? err.message);
        });
      });
      expect(fromRoot).toMatch(/EHOSTUNREACH|ENETUNREACH/);
    } finally {
      await l.stopAll();
    }
  });

  it('partitions, cuts one way, loses packets, and heals', async () => {
    const network = await create(['a', 'b', 'c']);
    const l = await listeners(network);
    try {
      await network.partition([['a'], ['b', 'c']]);
      expect(await reaches(network, 'a', 'b')).toBe('timeout');
      expect(await reaches(network, 'b', 'a')).toBe('timeout');
      expect(await reaches(network, 'c', 'b')).toBe('ok');
      await network.heal();
      expect(await reaches(network, 'a', 'b')).toBe('ok');

      // One way, seen with datagrams (TCP needs both ways): a's reach b no more, b's reach a.
      await network.cut('a', 'b');
      await probe(network, 'a', ['send', network.address('b'), String(PORT), '20']);
      await probe(network, 'b', ['send', network.address('a'), String(PORT), '20']);
      expect(await l.stop('b')).toBe(0);
      expect(await l.stop('a')).toBe(20);
      await network.heal();

      // Half of what c receives is lost: 400 datagrams, binomial(400, 0.5) is 200 ± 10.
      await network.lose('c', 0.5);
      await probe(network, 'b', ['send', network.address('c'), String(PORT), '400']);
      // All of it lost: nothing reaches c over the network; its own loopback is untouched.
      await network.lose('c', 1);
      expect(await reaches(network, 'b', 'c')).toBe('timeout');
      expect(await reaches(network, 'c', 'c')).toBe('ok');
      const got = await l.stop('c');
      expect(got).toBeGreaterThan(120);
      expect(got).toBeLessThan(280);
    } finally {
      await l.stopAll();
    }
  });

  it('delays what a member sends, changes the delay live, and stops its program at destroy', async () => {
    const network = await create(['a', 'b']);
    const l = await listeners(network);
    const fastest = async () =>
      Number(await probe(network, 'a', ['fastest', network.address('b'), String(PORT), '5']));
    try {
      // A connect waits for a's SYN: never sooner than a's delay (a lower bound, not a timing).
      await network.delay('a', { ms: 40, jitterMs: 0 });
      expect(await fastest()).toBeGreaterThanOrEqual(40);
      await network.delay('a', { ms: 80, jitterMs: 5 });
      expect(await fastest()).toBeGreaterThanOrEqual(75);
      await expect(network.delay('a', { ms: -1, jitterMs: 0 })).rejects.toThrow(NetworkModeError);
    } finally {
      await l.stopAll();
    }
    // What still runs in a's namespace (the listeners have stopped): its delay program.
    const { stdout } = await run('ip', ['netns', 'pids', network.namespace('a')]);
    const pids = stdout.trim().split('\n').filter(Boolean);
    expect(pids).toHaveLength(1);
    await network.destroy();
    for (const pid of pids) await expect(access(`/proc/${pid}`)).rejects.toThrow();
  });

  it("forwards a member's port to the root namespace's loopback, the client's address kept on request", async () => {
    const network = await create(['a', 'b']);
    const [program, ...rest] = network.wrap('b', [
      process.execPath,
      PROBE,
      'echo',
      '0.0.0.0',
      '7100',
    ]);
    const echo = spawn(program ?? 'ip', rest, { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(echo.stdout, 'data');
      const ask = (port: number, localAddress = '127.0.0.1') =>
        new Promise<string>((resolve, reject) => {
          const s = net.connect({ host: '127.0.0.1', port, localAddress }, () =>
            s.write('hello\n'),
          );
          let got = '';
          s.on('data', (chunk: Buffer) => (got += chunk.toString()));
          s.on('end', () => {
            resolve(got);
          });
          s.on('error', reject);
        });
      const plain = await network.forward('b', 7100);
      expect(await ask(plain.port)).toBe('hello\n');
      const proxied = await network.forward('b', 7100, { proxyProtocol: true });
      expect(await ask(proxied.port, '127.0.0.7')).toMatch(
        new RegExp(`^PROXY TCP4 127\\.0\\.0\\.7 127\\.0\\.0\\.1 \\d+ ${proxied.port}\r\n`),
      );
    } finally {
      echo.kill('SIGTERM');
    }
    await network.destroy();
    const { stdout } = await run('ip', ['netns', 'pids', network.namespace('b')]).catch(() => ({
      stdout: '',
    }));
    expect(stdout.trim()).toBe('');
  });

  it('runs two networks at once, apart from each other', async () => {
    const one = await create(['a', 'b']);
    const two = await create(['a', 'b']);
    expect(two.index).not.toBe(one.index);
    const l1 = await listeners(one);
    const l2 = await listeners(two);
    try {
      expect(await reaches(one, 'a', 'b')).toBe('ok');
      expect(await reaches(two, 'a', 'b')).toBe('ok');
      const across = await probe(one, 'a', ['connect', two.address('b'), String(PORT), '500']);
      expect(across).not.toBe('ok');
    } finally {
      await l1.stopAll();
      await l2.stopAll();
    }
  });

  it("removes a crashed run's network at the next start, and everything at destroy", async () => {
    const record = await recordIn();
    const crashed = await create(['a', 'b'], record);
    const names = async () => (await run('ip', ['netns', 'list'])).stdout;
    const bridgeOf = async (index: number) =>
      (await run('ip', ['-n', `sl${index}-bridge`, '-o', 'link', 'show', 'br0'])).stdout;
    const { token } = JSON.parse(await readFile(record, 'utf8')) as { token: string };
    expect(await bridgeOf(crashed.index)).toContain(token);
    // No destroy(): the runner was killed. The next start in the same work dir removes it (the
    // index may be taken again, by a new bridge).
    const next = await create(['a', 'b'], record);
    expect(await bridgeOf(crashed.index).catch(() => 'gone')).not.toContain(token);
    expect(JSON.parse(await readFile(record, 'utf8'))).toMatchObject({ index: next.index });
    await next.destroy();
    expect(await names()).not.toContain(next.namespace('a'));
    const { stdout } = await run('ip', ['route', 'show', 'type', 'unreachable']);
    expect(stdout).not.toContain(next.subnet.replace('/24', ''));
    await expect(readFile(record, 'utf8')).rejects.toThrow();
    // Destroyed again once its index is another network's: that one stays.
    const later = await create(['a', 'b']);
    await next.destroy();
    expect(await names()).toContain(later.namespace('a'));
  });
});
