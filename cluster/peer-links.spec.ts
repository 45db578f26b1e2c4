import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { PeerLinks } from './peer-links.js';

/** A stand-in replica: echoes what it gets on its peer port. */
function echo(port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.pipe(s));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** Sends `text` to `port`; resolves with the echo, or 'cut' when the connection is closed first. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.on('data', (d) => (s.destroy(), resolve(d.toString())));
    s.on('close', () => resolve('cut'));
    s.on('error', () => resolve('cut'));
  });
}

const peerPort = (links: PeerLinks, from: string, to: string) =>
  Number(
    links
      .envFor(from)
      .REPLICATION_PEERS.split(',')
      .find((p) => p.startsWith(`${to}=`))!
      .split(':')[1],
  );

describe('PeerLinks', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('relays each ordered pair; partition cuts a replica off both ways until heal', async () => {
    const links = await PeerLinks.open(['a', 'b', 'c']);
    for (const name of ['a', 'b', 'c']) {
      const server = await echo(Number(links.envFor(name).REPLICATION_PORT));
      await links.listenInto(name);
      cleanup.push(() => new Promise((r) => server.close(() => r())));
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
    const links = await PeerLinks.open(['a', 'b'], false);
    expect(peerPort(links, 'a', 'b')).toBe(Number(links.envFor('b').REPLICATION_PORT));
    expect(() => links.partition('a')).toThrow(/without peer relays/);
  });
});
