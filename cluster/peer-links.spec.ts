import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '../src/common/defined.js';
import { PeerLinks } from './peer-links.js';

/** A stand-in replica: echoes what it gets on its peer port. */
function echo(port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.pipe(s));
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      resolve(server);
    }),
  );
}

/** Sends `text` to `port`; resolves with the echo, or 'cut' when the connection is closed first. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.on('close', () => {
      resolve('cut');
    });
    s.on('error', () => {
      resolve('cut');
    });
  });
}

const peerPort = (links: PeerLinks, from: string, to: string) => {
  const member = links.membersOf(from).find((p) => p.startsWith(`${to}=`));
  return Number(defined(member, `${to} among ${from}'s members`).split(':')[1]);
};

async function openLinks(replicas: string[], relays = true) {
  const dir = await mkdtemp(join(tmpdir(), 'peer-links-'));
  const links = await PeerLinks.open(replicas, dir, { relays });
  return { links, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

describe('PeerLinks', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('relays each ordered pair; partition cuts a replica off both ways until heal', async () => {
    const { links, cleanup: removeDir } = await openLinks(['a', 'b', 'c']);
    cleanup.push(removeDir);
    for (const name of ['a', 'b', 'c']) {
      const server = await echo(Number(links.envFor(name).REPLICATION_PORT));
      await links.listenInto(name);
      cleanup.push(
        () =>
          new Promise((r) =>
            server.close(() => {
              r();
            }),
          ),
      );
      cleanup.push(() => links.closeInto(name));
    }
    expect(links.envFor('a').REPLICATION_SECRET).toHaveLength(43);
    expect(await roundTrip(peerPort(links, 'a', 'b'), 'hi')).toBe('hi');

    links.partition('b');
    expect(await roundTrip(peerPort(links, 'a', 'b'), 'hi')).toBe('cut');
    expect(await roundTrip(peerPort(links, 'b', 'c'), 'hi')).toBe('cut');
    expect(await roundTrip(peerPort(links, 'a', 'c'), 'hi')).toBe('hi');
    expect(links.partitioned).toEqual(['b']);

    links.heal();
    expect(await roundTrip(peerPort(links, 'b', 'c'), 'hi')).toBe('hi');
  });

  it('without relays, replicas reach each other directly and nothing can be cut', async () => {
    const { links, cleanup: removeDir } = await openLinks(['a', 'b'], false);
    cleanup.push(removeDir);
    expect(peerPort(links, 'a', 'b')).toBe(Number(links.envFor('b').REPLICATION_PORT));
    expect(() => {
      links.partition('a');
    }).toThrow(/without peer relays/);
  });

  it("writes each replica's members file: its peers, as it reaches them", async () => {
    const { links, dir, cleanup: removeDir } = await openLinks(['a', 'b', 'c']);
    cleanup.push(removeDir);
    const env = links.envFor('a');
    expect(env).toMatchObject({ REPLICATION_MEMBERSHIP: 'file' });
    expect(env.REPLICATION_PEERS).toBeUndefined();
    const file = join(dir, 'a.peers');
    expect(env.REPLICATION_MEMBERS_FILE).toBe(file);
    const listed = (await readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(listed).toEqual(links.membersOf('a'));
    expect(listed.map((l) => l.split('=')[0])).toEqual(['b', 'c']);
  });
});
