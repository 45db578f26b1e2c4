import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../cluster/process/ports.js';
import { FileMembership, type MemberAddress } from './membership.js';
import { PeerChannel } from './peer-channel.js';
import { defined } from '../../common/defined.js';

const SECRET = 'k'.repeat(43);
const until = async (check: () => boolean, ms = 8000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('FileMembership', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('reads name=host:port lines, skips itself and comments, and reports changes only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'members-'));
    dirs.push(dir);
    const file = join(dir, 'app-1.peers');
    await writeFile(
      file,
      '# the others\napp-1=127.0.0.1:1\napp-3=127.0.0.1:3\napp-2=127.0.0.1:2\n',
    );
    const logs: string[] = [];
    const seen: MemberAddress[][] = [];
    const m = new FileMembership(file, 'app-1', 100, (msg) => logs.push(msg));
    await m.start((members) => seen.push(members));
    try {
      expect(seen).toEqual([
        [
          { name: 'app-2', host: '127.0.0.1', port: 2 },
          { name: 'app-3', host: '127.0.0.1', port: 3 },
        ],
      ]);
      await new Promise((r) => setTimeout(r, 350));
      expect(seen).toHaveLength(1); // unchanged: not reported again
      await writeFile(file, 'app-2=127.0.0.1:2\napp-4=127.0.0.1:4\n');
      await until(() => seen.length === 2);
      expect(defined(seen[1], 'a second report').map((p) => p.name)).toEqual(['app-2', 'app-4']);
      // A broken file or a missing one keeps the last members (nobody is dropped by a typo).
      await writeFile(file, 'app-2=nonsense\n');
      await new Promise((r) => setTimeout(r, 350));
      await rm(file);
      await new Promise((r) => setTimeout(r, 350));
      expect(seen).toHaveLength(2);
      expect(logs).toEqual(
        expect.arrayContaining(['peer members file refused', 'peer members file unreadable']),
      );
    } finally {
      m.close();
    }
  });
});

/**
 * Channels whose members come from files the test rewrites, as the native runner does when it
 * scales: whatever sequence of joins and leaves, each running channel ends up live with exactly
 * the members its file lists, and without restarting anyone.
 */
describe('PeerChannel with changing members', () => {
  const POOL = ['a', 'b', 'c', 'd'];
  let dir: string;
  const channels = new Map<string, PeerChannel>();
  const ports = new Map<string, number>();

  async function setUp() {
    dir = await mkdtemp(join(tmpdir(), 'members-'));
    for (const name of POOL) ports.set(name, await freePort());
  }

  async function tearDown() {
    await Promise.all([...channels.values()].map((c) => c.close()));
    channels.clear();
    await rm(dir, { recursive: true, force: true });
  }

  const fileOf = (name: string) => join(dir, `${name}.peers`);
  const channelOf = (name: string) => defined(channels.get(name), `${name}'s channel`);
  const portOf = (name: string) => defined(ports.get(name), `${name}'s port`);
  const writeMembers = async (members: string[]) => {
    const text = members.map((n) => `${n}=127.0.0.1:${portOf(n)}`).join('\n');
    // Every member's file lists every member (its own line is skipped).
    await Promise.all(POOL.map((n) => writeFile(fileOf(n), text + '\n')));
  };

  function start(name: string, secret = SECRET): Promise<void> {
    const channel = new PeerChannel({
      self: name,
      host: '127.0.0.1',
      port: portOf(name),
      peers: new FileMembership(fileOf(name), name, 100, () => undefined),
      secret,
      log: () => undefined,
      heartbeatMs: 50,
      authenticateWithinMs: 500,
      io: 'inline',
    });
    channels.set(name, channel);
    return channel.start();
  }

  it('joins and leaves take effect without a restart, for any sequence of them', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray(POOL, { minLength: 1 }), { minLength: 1, maxLength: 4 }),
        async (steps) => {
          await setUp();
          try {
            const started = new Map<string, PeerChannel>();
            for (const members of steps) {
              await writeMembers(members);
              for (const n of members) if (!channels.has(n)) await start(n);
              // A member that left the list is stopped (scale-in); the others must notice.
              for (const [n, c] of [...channels]) {
                if (members.includes(n)) continue;
                await c.close();
                channels.delete(n);
              }
              for (const n of members) started.set(n, channelOf(n));
              const others = (n: string) => JSON.stringify(members.filter((m) => m !== n).sort());
              await until(() =>
                members.every((n) => {
                  const c = channelOf(n);
                  return (
                    JSON.stringify(c.livePeers().sort()) === others(n) &&
                    JSON.stringify([...c.peers].sort()) === others(n)
                  );
                }),
              );
              // Nobody who stayed was restarted: the same channel objects as when they joined.
              for (const n of members) expect(channels.get(n)).toBe(started.get(n));
            }
          } finally {
            await tearDown();
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('a stranger listed as a member, without the secret, never becomes a peer or hears a frame', async () => {
    await setUp();
    try {
      await writeMembers(['a', 'b', 'd']);
      const heard: unknown[] = [];
      await start('a');
      await start('b');
      await start('d', 'x'.repeat(43)); // listed, but with another secret
      channelOf('d').listen({ message: (from, body) => heard.push([from, body]) });
      await until(() => channelOf('a').livePeers().includes('b'));
      channelOf('a').send(['b', 'd'], { secret: 'session data' });
      await new Promise((r) => setTimeout(r, 600));
      expect(channelOf('a').livePeers()).toEqual(['b']);
      expect(channelOf('b').livePeers()).toEqual(['a']);
      expect(channelOf('d').livePeers()).toEqual([]);
      expect(heard).toEqual([]);
    } finally {
      await tearDown();
    }
  });
});
