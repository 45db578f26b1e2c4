/**
 * The `replicated` profile (every replica holds every session, Tomcat DeltaManager style),
 * through nginx round-robin, against the real processes. What the guarantee suite checks for
 * every profile (shared sessions, a crash, logout in flight, the cluster-wide login limit) is not
 * repeated here; this is what replication itself must show: copies under load and crashes, a
 * restarted replica's state transfer, finality against late and delayed messages, a partition
 * and its heal, and a peer port that refuses whatever is not signed, fresh and well-formed.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readdir, readFile } from 'node:fs/promises';
import { defined } from '../src/common/defined.js';
import { FrameSigner, type Envelope } from '../src/replication/channel/envelope.js';
import { knownOn, useCluster, type TestCluster } from './support/cluster.js';
import { expectPromisesKept, faultSeed, runSchedule, scheduleOf } from './support/fault-run.js';
import { eventually, sleep } from './support/eventually.js';
import type { HttpClient } from './support/http-client.js';
import { background } from './support/load.js';
import { peerExchange } from './support/peer.js';
import {
  isLoggedIn,
  login,
  logout,
  register,
  uniqueName,
  whoami,
  PASSWORD,
} from './support/steps.js';

const ENV = { SESSION_TOUCH_INTERVAL: '1' };

/** A process's threads and their scheduling, from /proc/<pid>/task/<tid>/stat. */
async function threadsOf(pid: number) {
  const tids = await readdir(`/proc/${pid}/task`);
  return Promise.all(
    tids.map(async (tid) => {
      // After "(comm)", field 40 is rt_priority and 41 the policy.
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { tid: Number(tid), rtPriority: Number(fields[37]), policy: Number(fields[38]) };
    }),
  );
}
const everywhere = (cluster: TestCluster, value: boolean) =>
  Object.fromEntries(cluster.replicas.map((r) => [r, value]));

/** Eventually every replica (asked directly) agrees on whether `client` is logged in. */
/**
 * Convergence by anti-entropy takes rounds of heartbeats (reconnect up to 1 s, a digest that
 * differs twice, a pull, then the other side's turn): 20 s leaves room for several.
 */
const CONVERGE_MS = 20_000;

const settlesTo = (cluster: TestCluster, client: HttpClient, value: boolean) =>
  eventually(async () => {
    const known = await knownOn(cluster, client);
    return Object.values(known).every((v) => v === value);
  }, CONVERGE_MS);

async function newUsers(cluster: TestCluster, n: number, firstSubnet: number) {
  const clients: HttpClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = cluster.client(firstSubnet + i);
    expect((await register(c, uniqueName('repl'))).status).toBe(201);
    clients.push(c);
  }
  return clients;
}

const displayNameOn = async (cluster: TestCluster, replica: string, client: HttpClient) =>
  ((await whoami(cluster.direct(replica, client))).body as { user?: { displayName?: string } }).user
    ?.displayName;

/** Eventually every replica shows `client`'s session with this display name. */
const displayNameSettles = (cluster: TestCluster, client: HttpClient, name: string) =>
  eventually(async () => {
    const names = await Promise.all(cluster.replicas.map((r) => displayNameOn(cluster, r, client)));
    return names.every((n) => n === name);
  }, CONVERGE_MS);

describe('replicated: every replica holds every session', () => {
  const cluster = useCluster('replicated', { env: ENV });

  it('by default runs every thread at normal priority (what a user without root gets)', async () => {
    for (const pid of cluster.replicaPids()) {
      if (pid === null) throw new Error('expected every replica running, found one without a pid');
      const threads = await threadsOf(pid);
      expect(threads.length).toBeGreaterThan(1); // the channel has its thread
      expect(threads.filter((t) => t.policy !== 0)).toEqual([]); // 0: SCHED_OTHER
    }
  });

  it('login once, authenticated on all three; a profile edit is seen by every replica', async () => {
    const client = defined((await newUsers(cluster, 1, 10))[0], 'a new user');
    expect(await knownOn(cluster, client)).toEqual(everywhere(cluster, true));
    expect((await client.patch('/api/me', { json: { displayName: 'Grace H.' } })).status).toBe(200);
    expect(await displayNameSettles(cluster, client, 'Grace H.')).toBe(true);
  });

  it('a replica SIGKILLed under load: 0 failed reads, 0 logouts; restarted, it serves nobody until it holds every session', async () => {
    const clients = await newUsers(cluster, 4, 20);
    const victim = defined(cluster.replicas[1], 'a second replica');
    const pids = cluster.replicaPids();
    const crash = (async () => {
      await sleep(500);
      await cluster.kill(victim);
      await sleep(1500);
    })();
    const tally = await background(clients, crash);
    await crash;
    expect(tally.requests).toBeGreaterThan(50);
    expect(tally.failed).toEqual([]);
    expect(tally.loggedOut).toBe(0);

    // Sessions made while it is down reach it only through the state transfer.
    const whileDown = await newUsers(cluster, 3, 30);
    const url = cluster.replicaUrl(victim);
    let firstReady: Record<string, boolean>[] | undefined;
    const restart = cluster.restart(victim);
    // The moment readiness first says 200, the replica must already know every session.
    const watch = (async () => {
      while (!firstReady) {
        const res = await fetch(`${url}/health/ready`).catch(() => undefined);
        if (res?.status === 200) {
          firstReady = [];
          for (const c of [...clients, ...whileDown]) {
            firstReady.push({ [victim]: await isLoggedIn(cluster.direct(victim, c)) });
          }
        }
        await sleep(20);
      }
    })();
    await restart;
    await watch;
    expect(firstReady).toEqual([...clients, ...whileDown].map(() => ({ [victim]: true })));
    expect(cluster.replicaPids()).not.toEqual(pids);
  }, 60_000);

  it('logout, revocation and a password change are final on every replica', async () => {
    const name = uniqueName('final');
    const laptop = cluster.client(40);
    await register(laptop, name);
    const phone = cluster.client(41);
    const tablet = cluster.client(42);
    expect((await login(phone, name)).status).toBe(200);
    expect((await login(tablet, name)).status).toBe(200);
    // Async replication: every replica holds the three sessions before we end them (a revocation
    // on a replica that has not heard of a session yet is a 404, and changes nothing).
    for (const device of [laptop, phone, tablet])
      expect(await settlesTo(cluster, device, true)).toBe(true);

    // Revocation from another device.
    const list = (await laptop.get('/api/sessions')).body as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    expect(list.sessions).toHaveLength(3);
    const before = new Set(list.sessions.filter((s) => !s.current).map((s) => s.id));
    const phoneId = (await phone.get('/api/sessions')).body as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    const phoneSession = defined(
      phoneId.sessions.find((s) => s.current),
      "the phone's session",
    ).id;
    expect(before.has(phoneSession)).toBe(true);
    expect((await laptop.delete(`/api/sessions/${phoneSession}`)).status).toBe(204);
    expect(await settlesTo(cluster, phone, false)).toBe(true);

    // A password change ends every other session.
    const change = await laptop.post('/api/me/password', {
      json: { currentPassword: PASSWORD, newPassword: 'another long password' },
    });
    expect(change.status).toBe(200);
    expect(await settlesTo(cluster, tablet, false)).toBe(true);
    expect(await knownOn(cluster, laptop)).toEqual(everywhere(cluster, true));

    // Logout, and the old cookie stays dead everywhere.
    const old = laptop.clone();
    expect((await logout(laptop)).status).toBe(204);
    expect(await settlesTo(cluster, old, false)).toBe(true);
    await sleep(1500); // a batch of accesses (last seen) goes out meanwhile: it revives nothing
    expect(await knownOn(cluster, old)).toEqual(everywhere(cluster, false));
  });
});

describe('replicated: a partition and its heal', () => {
  const cluster = useCluster('replicated', { env: ENV });

  it('writes on both sides; after heal the replicas converge: the later write of a field wins, a logout beats any write', async () => {
    const cut = defined(cluster.replicas[1], 'a second replica');
    const other = defined(cluster.replicas[0], 'a first replica');
    const edited = cluster.direct(other, undefined, 50);
    await register(edited, uniqueName('split'));
    const doomed = cluster.direct(other, undefined, 51);
    await register(doomed, uniqueName('split'));
    expect(await settlesTo(cluster, edited, true)).toBe(true);
    expect(await settlesTo(cluster, doomed, true)).toBe(true);

    await cluster.partition(cut);
    try {
      // A login on each side: the other side does not know it while the partition lasts.
      const leftAlone = cluster.direct(cut, undefined, 52);
      await register(leftAlone, uniqueName('split'));
      const rightSide = cluster.direct(other, undefined, 53);
      await register(rightSide, uniqueName('split'));
      await sleep(300);
      expect(await isLoggedIn(cluster.direct(other, leftAlone))).toBe(false);
      expect(await isLoggedIn(cluster.direct(cut, rightSide))).toBe(false);

      // One session edited on both sides: the cut side first, the other side later.
      const onCut = cluster.direct(cut, edited);
      expect((await onCut.patch('/api/me', { json: { displayName: 'cut side' } })).status).toBe(
        200,
      );
      await sleep(20);
      expect((await edited.patch('/api/me', { json: { displayName: 'later' } })).status).toBe(200);

      // A logout on one side while the other side still writes to the session (a delayed delta).
      expect((await logout(cluster.direct(other, doomed).clone())).status).toBe(204);
      const lateWriter = cluster.direct(cut, doomed);
      expect((await lateWriter.patch('/api/me', { json: { displayName: 'late' } })).status).toBe(
        200,
      );

      await cluster.heal();
      // Anti-entropy: heartbeats carry a digest of each replica's sessions; one that differs
      // twice in a row makes the replicas pull and merge each other's state.
      expect(await settlesTo(cluster, leftAlone, true)).toBe(true);
      expect(await settlesTo(cluster, rightSide, true)).toBe(true);
      expect(await settlesTo(cluster, doomed, false)).toBe(true);
      expect(await displayNameSettles(cluster, edited, 'later')).toBe(true);
    } finally {
      await cluster.heal();
    }
  }, 120_000);

  // Generated: which replica is cut off, for how long, and what the clients choose to do
  // (test/support/fault-run.ts; FAULT_SEED=<n> tries another seed).
  it('partitions under load, generated: once healed and converged, no acknowledged login or write is lost and no logout undone (history check)', async () => {
    const seed = faultSeed();
    const run = await runSchedule({
      client: (n) => cluster.client(100 + n),
      seed,
      steps: scheduleOf(fc.nat({ max: 2 }), seed),
      apply: (replica) =>
        cluster.partition(defined(cluster.replicas[replica], `replica ${replica}`)),
      heal: () => cluster.heal(),
    });
    await expectPromisesKept(run, {
      replicas: cluster.replicas,
      direct: (r, jar) => cluster.direct(r, jar),
      // Not promised: "sign out my other devices" during a partition reaches only the sessions its
      // side knows; one made on the other side lives on (docs/profiles/replicated.md).
      promises: { loginsKept: true, logoutFinal: true, revokeFinal: false, writesKept: true },
      convergeMs: CONVERGE_MS,
    });
  }, 120_000);
});

describe('replicated: the peer port', () => {
  // The operator's choice (the default is normal): a real-time channel thread, as root may have.
  const cluster = useCluster('replicated', {
    env: { ...ENV, REPLICATION_THREAD_PRIORITY: 'realtime' },
  });

  const target = () => defined(cluster.replicas[1], 'a second replica');
  const peerUrl = () =>
    `ws://127.0.0.1:${defined(cluster.peerEnv(target()).REPLICATION_PORT, "the target's peer port")}/`;

  function envelope(overrides: Partial<Envelope>, body: unknown): Envelope {
    return {
      v: 1,
      from: defined(cluster.replicas[0], 'a first replica'),
      to: target(),
      epoch: 1,
      seq: 1,
      ts: Date.now(),
      kind: 'msg',
      body,
      ...overrides,
    };
  }

  it('refuses unauthenticated, forged, replayed, truncated and oversized frames, logs them sparingly, and keeps serving', async () => {
    const victim = cluster.client(60);
    await register(victim, uniqueName('peer'));
    // The copies are asynchronous: the next request may reach a replica the session has not yet.
    expect(await settlesTo(cluster, victim, true)).toBe(true);
    const sessions = (await victim.get('/api/sessions')).body as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    const id = defined(
      sessions.sessions.find((s) => s.current),
      "the victim's session",
    ).id;
    // What every hostile frame asks for: end the victim's session everywhere.
    const kill = {
      t: 'destroyed',
      items: [{ id, gone: [Date.now() * 1000 + 1e9, 'x'], until: Date.now() + 60_000 }],
    };
    const secret = defined(cluster.peerEnv(target()).REPLICATION_SECRET, 'the replication secret');
    const real = new FrameSigner(secret);
    const forged = new FrameSigner('not-the-cluster-secret-not-the-cluster-secret');
    const signed = real.seal(envelope({ epoch: 1 }, kill));
    const pids = cluster.replicaPids();

    const outcomes = {
      'not a websocket': await fetch(peerUrl().replace('ws:', 'http:')).then(
        (r) => `http ${r.status}`,
      ),
      unauthenticated: await peerExchange(peerUrl(), [JSON.stringify(envelope({}, kill))]),
      binary: await peerExchange(peerUrl(), [Buffer.from([1, 2, 3])]),
      forged: await peerExchange(peerUrl(), [forged.seal(envelope({}, kill))]),
      truncated: await peerExchange(peerUrl(), [signed.slice(0, -5)]),
      // Signed with the real secret but recorded long ago, or from an earlier incarnation of a
      // peer (the replica knows the live one's epoch): a replay either way.
      'replayed (old timestamp)': await peerExchange(
        peerUrl(),
        [real.seal(envelope({ ts: Date.now() - 120_000, epoch: 10 ** 15 }, kill))],
        300,
      ),
      'replayed (earlier incarnation)': await peerExchange(peerUrl(), [signed, signed], 300),
      oversized: await peerExchange(peerUrl(), ['x'.repeat(2 * 1024 * 1024)]),
      'addressed to another replica': await peerExchange(
        peerUrl(),
        [real.seal(envelope({ to: cluster.replicas[2], epoch: 1 }, kill))],
        300,
      ),
    };
    expect(outcomes).toEqual({
      'not a websocket': 'http 426',
      unauthenticated: 'closed 1008',
      binary: 'closed 1008',
      forged: 'closed 1008',
      truncated: 'closed 1008',
      'replayed (old timestamp)': 'open',
      'replayed (earlier incarnation)': 'open',
      oversized: 'closed 1009',
      'addressed to another replica': 'open',
    });
    // A flood is logged once per peer and interval, not once per frame.
    await Promise.all(Array.from({ length: 20 }, () => peerExchange(peerUrl(), ['garbage'], 100)));

    expect(await knownOn(cluster, victim)).toEqual(everywhere(cluster, true));
    expect(cluster.replicaPids()).toEqual(pids);
    const res = await fetch(`${cluster.replicaUrl(target())}/health/ready`);
    expect(res.status).toBe(200);
    const member = defined(
      cluster.status().find((m) => m.name === target()),
      `the member ${target()}`,
    );
    const log = await readFile(member.log, 'utf8');
    const refusals = log.split('\n').filter((l) => l.includes('peer frame refused'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(4); // one per source (address or claimed peer)
  });

  it('is not reachable through nginx: nginx proxies the app port only', async () => {
    expect(await peerExchange(peerUrl(), [], 200)).toBe('open'); // the port itself takes WebSockets
    const through = await peerExchange(cluster.url.replace('http:', 'ws:') + '/', []);
    expect(through).not.toBe('open');
    expect(through).toMatch(/^(http|closed)/);
  });

  it('asked for realtime, has a thread of its own that runs real-time (SCHED_FIFO), and only that thread', async () => {
    for (const pid of cluster.replicaPids()) {
      if (pid === null) throw new Error('expected every replica running, found one without a pid');
      const threads = await threadsOf(pid);
      const realtime = threads.filter((t) => t.policy === 1); // SCHED_FIFO
      expect(realtime).toEqual([expect.objectContaining({ rtPriority: 1 })]);
      // not the main thread, which serves the requests
      expect(defined(realtime[0], 'the real-time thread').tid).not.toBe(pid);
    }
  });
});
