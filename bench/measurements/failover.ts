/**
 * Measurement 8 (and the e2e specs' failover steps): the session store's primary SIGKILLed while
 * clients keep reading and logging in, through nginx. Every request sent after the kill is
 * classified (2xx, 503, other 5xx, no answer in time), the time to the first successful write
 * (a login answered 200) after the kill is taken, and once the store serves again every login
 * that was acknowledged is checked: a session the store no longer knows is a lost login.
 *
 * On loopback a replica is microseconds behind its primary, so a plain kill rarely loses a write.
 * `lagMs` stands in for replicas cut off for a moment (a network blip, a stalled machine): they are
 * paused (SIGSTOP) and their links dropped (CLIENT KILL TYPE replica on the primary) that long
 * before the kill, and resumed (SIGCONT) right after it, so what the primary acknowledged
 * meanwhile was never copied. All of them: Sentinel would promote one that is not behind. Durable
 * logins (WAIT) do not acknowledge those.
 */
import type { Cluster } from '../../cluster/cluster.js';
import { askRedis } from '../../cluster/services/redis.js';
import { defined } from '../../src/common/defined.js';
import { isAuthenticated, VirtualClient, type Reply } from '../../cluster/virtual-client.js';
import { clientAddress } from '../load.js';
import type { FailoverResult, FailoverRuns, LoginResult } from '../results.js';
import type { Subject } from '../subject.js';
import { PASSWORD, seedUsers } from '../users.js';

/** A request without an answer after this long counts as a hang (the app promises a fast 503). */
export const HANG_MS = 5000;

export interface FailoverOptions {
  cluster: Cluster;
  /** Logged-in clients that keep reading (GET /api/whoami); their sessions predate everything. */
  readers: VirtualClient[];
  /** Clients that keep logging in, writer i as usernames[i]; each login is a new session. */
  writers: VirtualClient[];
  usernames: string[];
  /** Load before the kill. */
  beforeMs: number;
  /**
   * Load after the kill at most; it ends earlier once a write has succeeded and no request has
   * failed for `settleMs`.
   */
  afterMs: number;
  settleMs?: number;
  /** Pause the replicas this long before the kill (see the file comment); 0: a plain kill. */
  lagMs?: number;
  /**
   * Restart the killed primary, as a supervisor would: it rejoins as a replica, and the topology
   * is whole for what follows. Where it had one replica (a Redis Cluster master), that happens as
   * soon as the replica has taken over, within the measured time: durable logins need it, as a
   * login needs a second copy. Where it had two or more (redis-ha), only once the measurement has
   * ended: what is measured is the store without it.
   */
  restartKilled?: boolean;
  /** Sees every reader's reply, and whether it was sent after the kill. */
  onRead?: (reader: number, reply: Reply, afterKill: boolean) => void;
}

interface Sent {
  reply: Reply;
  sentAt: number;
}

export async function measureFailover(o: FailoverOptions): Promise<FailoverResult> {
  const { cluster } = o;
  const storeFailover = async () => {
    const pair = await cluster.storeFailover();
    if (!pair) throw new Error(`${cluster.profile.name}: its store does not fail over`);
    return pair;
  };
  let pair = await storeFailover();
  const { againInMs } = pair;
  if (againInMs) {
    // A failover just happened (the run before): this one would measure Sentinel's retry delay.
    await new Promise((resolve) => setTimeout(resolve, againInMs));
    pair = await storeFailover();
  }
  const member = (name: string) => cluster.status().find((m) => m.name === name);
  const portOf = (name: string) => defined(member(name), `${name}'s status`).port;
  // The running replicas' pids: fewer than the replicas when one is not running.
  const replicaPids = pair.replicas.flatMap((name) => member(name)?.pid ?? []);
  const lagMs = o.lagMs ?? 0;
  if (lagMs > 0 && (replicaPids.length === 0 || replicaPids.length < pair.replicas.length))
    throw new Error(`${pair.primary}: not every replica is running (${pair.replicas.join(', ')})`);
  const pauseReplicas = (signal: 'SIGSTOP' | 'SIGCONT') => {
    for (const pid of replicaPids) process.kill(pid, signal);
  };

  let killedAt = Infinity;
  let stopAt = Infinity;
  let firstWriteAt = Infinity;
  let lastFailureAt = -Infinity;
  const settleMs = o.settleMs ?? 2000;
  const after: Sent[] = [];
  const acknowledged: Array<{ cookies: Map<string, string>; address: string }> = [];
  let readinessDown = false;

  const record = (sent: Sent) => {
    if (sent.sentAt < killedAt) return;
    after.push(sent);
    if (sent.reply.status < 200 || sent.reply.status > 299) lastFailureAt = performance.now();
  };
  const settled = () =>
    performance.now() - Math.max(firstWriteAt, lastFailureAt) > settleMs &&
    Number.isFinite(firstWriteAt);
  const running = () => performance.now() < stopAt && !settled();
  const readers = o.readers.map(async (client, i) => {
    while (running()) {
      const sentAt = performance.now();
      const reply = await client.send('GET', '/api/whoami');
      record({ reply, sentAt });
      o.onRead?.(i, reply, sentAt >= killedAt);
    }
  });
  const writers = o.writers.map(async (client, i) => {
    while (running()) {
      client.clearCookies();
      const sentAt = performance.now();
      const reply = await client.send('POST', '/api/auth/login', {
        username: o.usernames[i],
        password: PASSWORD,
      });
      record({ reply, sentAt });
      if (reply.status !== 200) continue;
      acknowledged.push({ cookies: new Map(client.cookies), address: client.localAddress });
      if (sentAt >= killedAt && performance.now() < firstWriteAt) firstWriteAt = performance.now();
    }
  });
  const readiness = (async () => {
    const probe = new VirtualClient(cluster.url, '127.0.0.1');
    while (running()) {
      if (performance.now() > killedAt) {
        const reply = await probe.send('GET', '/health/ready');
        if (reply.status === 503) readinessDown = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    probe.close();
  })();

  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    if (lagMs > 0) {
      await wait(Math.max(0, o.beforeMs - lagMs));
      // Paused, a replica cannot reconnect; its link dropped, the primary sends it nothing more
      // (what it had sent already sits in the replica's socket buffer and is not lost).
      pauseReplicas('SIGSTOP');
      await askRedis(portOf(pair.primary), ['CLIENT', 'KILL', 'TYPE', 'replica']);
      await wait(lagMs);
    } else {
      await wait(o.beforeMs);
    }
    await cluster.kill(pair.primary);
    // From when it is gone (reaped): requests sent before could still be answered by it.
    killedAt = performance.now();
    stopAt = killedAt + o.afterMs;
  } finally {
    if (lagMs > 0) pauseReplicas('SIGCONT');
  }
  const rejoinsDuringRun = o.restartKilled && pair.replicas.length < 2;
  const restarted = rejoinsDuringRun ? rejoin(cluster, pair.primary, o.afterMs) : undefined;
  await Promise.all([...readers, ...writers, readiness, restarted]);
  if (o.restartKilled && !rejoinsDuringRun) await rejoin(cluster, pair.primary, o.afterMs);

  // Which acknowledged sessions does the store know, once it answers for them (not 503)?
  let loginsLost = 0;
  for (const login of acknowledged) {
    const client = new VirtualClient(cluster.url, login.address);
    for (const [k, v] of login.cookies) client.cookies.set(k, v);
    if (!(await knows(client))) loginsLost++;
    client.close();
  }
  let readersLoggedOut = 0;
  for (const client of o.readers) if (!(await knows(client))) readersLoggedOut++;
  const probe = new VirtualClient(cluster.url, '127.0.0.1');
  const readinessBack = (await probe.send('GET', '/health/ready')).status === 200;
  probe.close();

  const replies = after.map((s) => s.reply);
  const hung = (r: Reply) => r.status === 0 || r.ms >= HANG_MS;
  return {
    killed: pair.primary,
    replicas: pair.replicas,
    firstWriteAfterMs: Number.isFinite(firstWriteAt) ? firstWriteAt - killedAt : NaN,
    lastFailureAfterMs: Math.max(0, lastFailureAt - killedAt),
    requestsAfter: replies.length,
    answered503: replies.filter((r) => r.status === 503).length,
    otherFailures: replies.filter((r) => !hung(r) && r.status >= 500 && r.status !== 503).length,
    hangs: replies.filter(hung).length,
    failuresByStatus: tally(replies.filter((r) => r.status < 200 || r.status > 299)),
    slowestMs: Math.max(0, ...replies.map((r) => r.ms)),
    loginsAcknowledged: acknowledged.length,
    loginsLost,
    readersLoggedOut,
    readinessDown,
    readinessBack,
    lagMs,
  };
}

/** Waits until another member is the primary, then restarts `killed` (it rejoins as a replica). */
async function rejoin(cluster: Cluster, killed: string, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const now = await cluster.storeFailover().catch(() => undefined);
    if (now && now.primary !== killed) return cluster.restart(killed);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no replica took over from ${killed} within ${timeoutMs} ms`);
}

/** Whether the store knows `client`'s session; asks again while the answer is a 503 (up to 15 s). */
async function knows(client: VirtualClient): Promise<boolean> {
  const until = performance.now() + 15_000;
  for (;;) {
    const reply = await client.send('GET', '/api/whoami');
    if (reply.status !== 503 || performance.now() > until) return isAuthenticated(reply);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function tally(replies: Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/**
 * The benchmark's failover runs for a store that fails over: durable logins off, then the
 * replicas restarted in turn with them on, the login cost measured again and a second failover.
 * Both restart the killed primary (see `restartKilled`), so the topology is whole for what follows.
 */
export async function measureFailovers(
  s: Subject,
  o: {
    seconds: number;
    lagMs: number;
    measureLogin: () => Promise<LoginResult>;
    /** Also with durable logins on (two rolling restarts more); quick runs leave it out. */
    durable: boolean;
  },
): Promise<FailoverRuns> {
  const cluster = s.topology.cluster;
  const hash = s.passwordHash;
  const usernames = await seedUsers(s.topology.postgresUrl, 'failover', WRITERS, hash);
  const writers = usernames.map(
    (_, i) => new VirtualClient(cluster.url, clientAddress(WRITER_ADDRESS + i)),
  );
  const run = () =>
    measureFailover({
      cluster,
      readers: s.clients,
      writers,
      usernames,
      beforeMs: 1500,
      afterMs: o.seconds * 1000,
      lagMs: o.lagMs,
      restartKilled: true,
    });
  try {
    const off = await run();
    if (!o.durable) return { off };
    await cluster.rollingRestart({ REDIS_DURABLE_LOGINS: 'true' });
    try {
      const loginDurable = await o.measureLogin();
      const on = await run();
      return { off, on, loginDurable };
    } finally {
      await cluster.rollingRestart({ REDIS_DURABLE_LOGINS: 'false' });
    }
  } finally {
    writers.forEach((c) => {
      c.close();
    });
  }
}

/** Clients that log in during a failover run, each from its own /24 (above the load clients'). */
const WRITERS = 8;
const WRITER_ADDRESS = 30_000;
