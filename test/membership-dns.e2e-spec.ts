// Peer membership by DNS against a real DNS server: Debian's dnsmasq on a loopback port, answering
// one name with every replica's address from a hosts file that the test rewrites (SIGHUP makes
// dnsmasq read it again) — what Docker's embedded DNS does for a compose network alias, and a
// Kubernetes headless Service for a StatefulSet. Each channel listens on its own loopback address
// (127.0.1.N) on the same peer port, as containers do on their own IPs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ManagedProcess } from '../cluster/index.js';
import { defined } from '../src/common/defined.js';
import { DnsMembership } from '../src/replication/channel/membership.js';
import { PeerChannel } from '../src/replication/channel/peer-channel.js';
import { eventually, sleep } from './support/eventually.js';

const NAME = 'replicas.scaled-login.test';
const READY = 'ready.scaled-login.test';
const SECRET = 's'.repeat(43);
const ADDRESS = { a: '127.0.1.1', b: '127.0.1.2', c: '127.0.1.3', d: '127.0.1.4', x: '127.0.1.9' };
type Member = keyof typeof ADDRESS;

describe('peer membership by DNS (dnsmasq)', () => {
  let dir: string;
  let dns: ManagedProcess | undefined;
  let dnsServer: string;
  let peerPort: number;
  const channels = new Map<Member, PeerChannel>();
  const logs: string[] = [];

  /** Lists `members` under the name, and waits until dnsmasq answers exactly them. */
  async function publish(members: Member[]): Promise<void> {
    const lines = members.map((m) => `${ADDRESS[m]} ${NAME}\n`).join('');
    await writeFile(join(dir, 'hosts'), `127.0.0.1 ${READY}\n${lines}`);
    defined(dns, 'dnsmasq').send('SIGHUP');
    const resolver = new Resolver();
    resolver.setServers([dnsServer]);
    const want = members.map((m) => ADDRESS[m]).sort();
    const answered = await eventually(async () => {
      const got = await resolver.resolve4(NAME).catch(() => [] as string[]);
      return JSON.stringify([...got].sort()) === JSON.stringify(want);
    }, 5000);
    expect(answered).toBe(true);
  }

  async function start(member: Member, secret = SECRET): Promise<PeerChannel> {
    const channel = new PeerChannel({
      self: `app-${member}`,
      host: ADDRESS[member],
      port: peerPort,
      peers: new DnsMembership(NAME, peerPort, dnsServer, 200, (m, d) =>
        logs.push(`${member}: ${m} ${JSON.stringify(d)}`),
      ),
      secret,
      log: (m, d) => logs.push(`${member}: ${m} ${JSON.stringify(d)}`),
      heartbeatMs: 100,
      authenticateWithinMs: 1000,
      io: 'inline',
    });
    channels.set(member, channel);
    await channel.start();
    return channel;
  }

  const channelOf = (m: Member) => defined(channels.get(m), `the channel of ${m}`);
  const liveOf = (m: Member) => channelOf(m).livePeers().sort();
  const converged = (members: Member[]) =>
    eventually(
      async () =>
        members.every(
          (m) =>
            JSON.stringify(liveOf(m)) ===
              JSON.stringify(members.filter((o) => o !== m).map((o) => `app-${o}`)) &&
            JSON.stringify(channelOf(m).peers.sort()) === JSON.stringify(liveOf(m)),
        ),
      10_000,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scaled-login-dns-'));
    peerPort = await freePort();
    const port = await freePort();
    dnsServer = `127.0.0.1:${port}`;
    await writeFile(join(dir, 'hosts'), `127.0.0.1 ${READY}\n`);
    const user = process.getuid?.() === 0 ? ['--user=root', '--group=root'] : [];
    dns = await ManagedProcess.start({
      name: 'dnsmasq',
      command: '/usr/sbin/dnsmasq',
      args: [
        '--keep-in-foreground',
        '--conf-file=/dev/null', // not the machine's /etc/dnsmasq.conf
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv', // answer only from the hosts file: never forward to the outside
        '--no-hosts',
        `--addn-hosts=${join(dir, 'hosts')}`,
        '--local-ttl=0',
        '--pid-file=',
        ...user,
      ],
      logFile: join(dir, 'dnsmasq.log'),
    });
    // Until it answers, a SIGHUP would end it (its handler is not installed yet).
    const resolver = new Resolver();
    resolver.setServers([dnsServer]);
    const up = await eventually(() => resolver.resolve4(READY).then((a) => a.length === 1), 10_000);
    expect(up).toBe(true);
    await publish([]);
  });

  afterAll(async () => {
    await Promise.all([...channels.values()].map((c) => c.close()));
    await dns?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds every replica behind the name, names learned in the handshake', async () => {
    await publish(['a', 'b', 'c']);
    for (const m of ['a', 'b', 'c'] as const) await start(m);
    expect(await converged(['a', 'b', 'c'])).toBe(true);
  });

  it('a replica added to the name joins; nobody restarts', async () => {
    const before = ['a', 'b', 'c'].map((m) => channels.get(m as Member));
    await start('d');
    await publish(['a', 'b', 'c', 'd']);
    expect(await converged(['a', 'b', 'c', 'd'])).toBe(true);
    expect(['a', 'b', 'c'].map((m) => channels.get(m as Member))).toEqual(before);
  });

  it('a replica removed from the name and stopped is dropped within a bounded time', async () => {
    await publish(['a', 'c', 'd']);
    await channelOf('b').close();
    channels.delete('b');
    expect(await converged(['a', 'c', 'd'])).toBe(true);
  });

  it('a stranger behind the name without the secret is never a member and hears nothing', async () => {
    const stranger = await start('x', 'w'.repeat(43));
    const heard: unknown[] = [];
    stranger.listen({ message: (from, body) => heard.push([from, body]) });
    await publish(['a', 'c', 'd', 'x']);
    await sleep(1500); // several lookups and reconnect attempts
    channelOf('a').send(channelOf('a').peers, { session: 'data' });
    await sleep(300);
    expect(liveOf('a')).toEqual(['app-c', 'app-d']);
    expect(stranger.livePeers()).toEqual([]);
    expect(heard).toEqual([]);
    // Each member that dialled it says why, once (the refusal log's interval is a minute).
    const refusals = logs.filter((l) => l.includes('no proof of the cluster secret'));
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(6); // x refuses them too: their proofs use another secret
  });
});
