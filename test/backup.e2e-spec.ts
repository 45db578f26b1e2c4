/**
 * The `backup` profile (Tomcat's BackupManager: a primary and one backup per session, proxies on
 * the other replicas; the route cookie pins a client to its session's primary), through nginx,
 * against the real processes. What the guarantee suite checks for every profile is not repeated
 * here; this is what primary/backup replication itself must show: both failover paths of the
 * sources (nginx's failover target holds the backup, or only a proxy), re-replication after a
 * crash, two crashes in a row, primary and backup dying together, a crash under load, a bounded
 * fetch, a joining replica that receives locations only, and revocation everywhere.
 */
import { describe, expect, it } from '@jest/globals';
import { takeSnapshot } from '../cluster/dashboard/snapshot.js';
import { defined } from '../src/common/defined.js';
import { knownOn, useCluster, type TestCluster } from './support/cluster.js';
import { eventually, sleep } from './support/eventually.js';
import type { HttpClient } from './support/http-client.js';
import { background } from './support/load.js';
import { chooseBackup } from '../src/replication/core/backup/placement.js';
import { isLoggedIn, login, logout, register, uniqueName, whoami } from './support/steps.js';

const ENV = { SESSION_TOUCH_INTERVAL: '1', BACKUP_FETCH_TIMEOUT_MS: '500' };

interface Placed {
  primary: string;
  backup: string | null;
  proxies: string[];
}

/** Where `client`'s session is, as its primary says (the request goes to it: nothing moves). */
async function placementOf(client: HttpClient): Promise<Placed> {
  const res = await client.get('/api/sessions/current/placement');
  expect(res.status).toBe(200);
  const placement = (res.body as { placement: Array<{ holder: string; role: string }> }).placement;
  const of = (role: string) =>
    placement.filter((p) => p.role.startsWith(role)).map((p) => p.holder);
  return {
    primary: defined(of('primary')[0], 'a primary in the placement'),
    backup: of('backup')[0] ?? null,
    proxies: of('proxy'),
  };
}

/** The backup holder of a placement that must have one. */
function backupOf(p: Placed): string {
  if (p.backup === null) throw new Error(`expected a backup of the session on ${p.primary}`);
  return p.backup;
}

interface Stats {
  held: { primary: number; backup: number; proxy: number };
  promotions: number;
  takeovers: number;
  lost: number;
  sent: Record<string, number>;
}

async function statsOf(cluster: TestCluster, replica: string): Promise<Stats> {
  const res = await fetch(`${cluster.replicaUrl(replica)}/health/ready`);
  const body = (await res.json()) as { checks: { sessionStore: { stats: Stats } } };
  return body.checks.sessionStore.stats;
}

/** Clients registered through nginx (each from its own /24) until `count` have `home` as primary. */
async function clientsOn(cluster: TestCluster, home: string, count: number, subnet: number) {
  const out: HttpClient[] = [];
  for (let i = 0; out.length < count && i < count * 8; i++) {
    const c = cluster.client(subnet + i);
    const res = await register(c, uniqueName('backup'));
    expect(res.status).toBe(201);
    if (res.servedBy === home) out.push(c);
  }
  expect(out).toHaveLength(count);
  return out;
}

async function newClient(cluster: TestCluster, subnet: number) {
  const c = cluster.client(subnet);
  expect((await register(c, uniqueName('backup'))).status).toBe(201);
  return c;
}

async function newClients(cluster: TestCluster, n: number, subnet: number) {
  const out: HttpClient[] = [];
  for (let i = 0; i < n; i++) out.push(await newClient(cluster, subnet + i));
  return out;
}

function pidOf(cluster: TestCluster, replica: string): number {
  const pid = cluster.status().find((m) => m.name === replica)?.pid;
  if (pid === undefined || pid === null) throw new Error(`expected ${replica}'s pid, found none`);
  return pid;
}

describe('backup: a primary and one backup per session, proxies elsewhere', () => {
  // Four replicas: a session's two copies leave two proxy holders, so nginx's failover target
  // can be one that holds only a proxy even after re-replication.
  const cluster = useCluster('backup', { env: ENV, replicas: 4 });

  it('a new session: primary where it logged in, a backup on another replica, proxies on the rest', async () => {
    const clients = await newClients(cluster, 6, 10);
    for (const c of clients) {
      const { servedBy } = await whoami(c);
      const p = await placementOf(c);
      expect(p.primary).toBe(servedBy);
      expect(p.backup).not.toBeNull();
      expect(p.backup).not.toBe(p.primary);
      expect(p.proxies).toHaveLength(cluster.replicas.length - 2);
    }
    let copies = 0;
    for (const r of cluster.replicas) {
      const held = (await statsOf(cluster, r)).held;
      copies += held.primary + held.backup;
    }
    let sessions = 0;
    for (const r of cluster.replicas) sessions += (await statsOf(cluster, r)).held.primary;
    expect(copies).toBe(2 * sessions);
  });

  it("the dashboard's sessions table and the profile page: primary, backup and proxies as placed", async () => {
    const client = await newClient(cluster, 20);
    const p = await placementOf(client);
    // The profile page names the same replicas in the same roles (the backend's locate()).
    const page = await client.get('/profile');
    expect(page.status).toBe(200);
    const line = defined(
      /<p class="muted" id="placement">([\s\S]*?)<\/p>/.exec(page.text)?.[1],
      'the placement line on the profile page',
    );
    const named = [...line.matchAll(/<strong>([^<]+)<\/strong> \((\w+):/g)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(named).toEqual([
      [p.primary, 'primary'],
      [p.backup, 'backup'],
      ...p.proxies.map((r) => [r, 'proxy']),
    ]);
    // The dashboard's snapshot (each replica's held(), asked directly): every replica knows every
    // session in exactly one role, and the copies (primaries and backups) are two per session.
    const counts = async () => {
      const { held } = await takeSnapshot(cluster, {
        rates: new Map(),
        observers: [],
        load: {
          running: false,
          clients: 0,
          loggedIn: 0,
          byReplica: {},
          loggedOut: 0,
          failed: 0,
          requests: 0,
        },
        events: [],
      });
      return cluster.replicas.map(
        (r) => held[r] as { primary: number; backup: number; proxy: number },
      );
    };
    const balanced = async () => {
      const held = await counts();
      const sessions = held.reduce((n, h) => n + h.primary, 0);
      return (
        sessions > 0 &&
        held.reduce((n, h) => n + h.backup, 0) === sessions &&
        held.every((h) => h.primary + h.backup + h.proxy === sessions)
      );
    };
    expect(await eventually(balanced)).toBe(true);
    const first = defined((await counts())[0], "the first replica's held counts");
    expect(Object.keys(first).sort()).toEqual(['backup', 'primary', 'proxy']);
  });

  it("scenario 1 and 2: the primary SIGKILLed; nginx's failover target holds the backup (1) or only a proxy (2); logged in, re-pinned, a live backup again", async () => {
    const victim = defined(cluster.replicas[0], 'a first replica');
    const survivors = cluster.replicas.filter((r) => r !== victim);
    const clients = await clientsOn(cluster, victim, 8, 30);
    const placed = new Map<HttpClient, { id: string; backup: string }>();
    const placedOf = (c: HttpClient) => defined(placed.get(c), 'where the client was placed');
    for (const c of clients) {
      const list = (await c.get('/api/sessions')).body as {
        sessions: Array<{ id: string; current: boolean }>;
      };
      placed.set(c, {
        id: defined(
          list.sessions.find((s) => s.current),
          'the current session',
        ).id,
        backup: backupOf(await placementOf(c)),
      });
    }
    /**
     * Whether `target` still holds only a proxy when the client arrives: it is not the backup,
     * and not the backup the promoted backup holder picks at once (re-replication after the
     * crash is faster than the client's next request).
     */
    const proxyOnArrival = (c: HttpClient, target: string) => {
      const { id, backup } = placedOf(c);
      const next = chooseBackup(
        id,
        survivors.filter((r) => r !== backup),
      );
      return target !== backup && target !== next;
    };

    const atStart = Object.fromEntries(
      await Promise.all(survivors.map(async (r) => [r, await statsOf(cluster, r)] as const)),
    );
    await cluster.kill(victim);
    try {
      // nginx's pin upstream lists the others as `backup` servers, in order, and picks among
      // them in turn (smooth round-robin shared by its workers): after a landing on one, the
      // next client goes to the next. Choose each client so that its target holds the backup,
      // then one where it holds only a proxy, alternately.
      const pool = [...clients];
      const seen: Array<{ scenario: 1 | 2; how: string }> = [];
      let predicted: string | undefined;
      while (pool.length) {
        const want: 1 | 2 = seen.length % 2 === 0 ? 1 : 2;
        const fits = (c: HttpClient) =>
          predicted !== undefined &&
          (want === 1 ? placedOf(c).backup === predicted : proxyOnArrival(c, predicted));
        const client = defined(
          pool.splice(Math.max(0, pool.findIndex(fits)), 1)[0],
          'a client left in the pool',
        );
        const before = Object.fromEntries(
          await Promise.all(survivors.map(async (r) => [r, await statsOf(cluster, r)] as const)),
        );
        const res = await whoami(client);
        expect(res.status).toBe(200);
        expect((res.body as { authenticated: boolean }).authenticated).toBe(true);
        const landed = defined(res.servedBy, 'the replica that answered');
        expect(survivors).toContain(landed);
        // Re-pinned: the route cookie names the replica that took over.
        expect(client.cookies.get('route')).toBe(landed);
        const after = await statsOf(cluster, landed);
        const was = defined(before[landed], `${landed}'s stats before`);
        const how =
          after.takeovers > was.takeovers
            ? 'fetched from a holder'
            : after.promotions > was.promotions
              ? 'promoted its backup copy'
              : // The backup holder promoted itself as soon as it saw the primary go.
                'already primary';
        const scenario = placedOf(client).backup === landed ? 1 : 2;
        seen.push({ scenario, how });
        if (scenario === 1) expect(how).not.toBe('fetched from a holder');
        if (proxyOnArrival(client, landed)) expect(how).toBe('fetched from a holder');
        predicted = survivors[(survivors.indexOf(landed) + 1) % survivors.length];
        // It is the primary now, with a live backup on another survivor.
        const p = await placementOf(client);
        expect(p.primary).toBe(landed);
        expect(survivors.filter((r) => r !== landed)).toContain(p.backup);
        expect((await whoami(client)).servedBy).toBe(landed);
      }
      expect(seen.filter((x) => x.scenario === 1).length).toBeGreaterThan(0);
      expect(seen).toContainEqual({ scenario: 2, how: 'fetched from a holder' });
      // Every backup holder of the victim's sessions became primary: promotions at least as
      // many as the scenario-1 clients (those of earlier tests' sessions too).
      let promotions = 0;
      for (const r of survivors)
        promotions +=
          (await statsOf(cluster, r)).promotions -
          defined(atStart[r], `${r}'s stats at the start`).promotions;
      expect(promotions).toBeGreaterThanOrEqual(seen.filter((x) => x.scenario === 1).length);
    } finally {
      await cluster.rejoin(victim);
    }
  }, 90_000);

  it('two crashes in a row, time for re-replication between: nobody logged out', async () => {
    const clients = await newClients(cluster, 9, 50);
    const second = defined(cluster.replicas[1], 'a second replica');
    const third = defined(cluster.replicas[2], 'a third replica');
    await cluster.kill(second);
    try {
      for (const c of clients) expect(await isLoggedIn(c)).toBe(true);
      // Re-replication: every session again on two live replicas.
      const settled = await eventually(async () => {
        for (const c of clients) {
          const p = await placementOf(c);
          if (p.primary === second || p.backup === second || p.backup === null) return false;
        }
        return true;
      });
      expect(settled).toBe(true);
      await cluster.kill(third);
      for (const c of clients) expect(await isLoggedIn(c)).toBe(true);
    } finally {
      await cluster.rejoin(second);
      await cluster.rejoin(third);
    }
  }, 90_000);

  it('primary and backup killed together: exactly their sessions are lost, and counted', async () => {
    const a = defined(cluster.replicas[0], 'a first replica');
    const b = defined(cluster.replicas[1], 'a second replica');
    const survivor = defined(cluster.replicas[2], 'a third replica');
    const clients: HttpClient[] = [];
    const doomed = new Set<HttpClient>();
    // Clients until some sessions have both copies on the two about to die, and some do not.
    for (let i = 0; i < 60 && (doomed.size < 2 || clients.length - doomed.size < 4); i++) {
      const c = await newClient(cluster, 70 + i);
      clients.push(c);
      const p = await placementOf(c);
      if ([p.primary, p.backup].every((h) => h === a || h === b)) doomed.add(c);
    }
    expect(doomed.size).toBeGreaterThanOrEqual(2);
    const lostBefore = (await statsOf(cluster, survivor)).lost;
    // In the same instant: neither can hand its copy on before the other dies too.
    process.kill(pidOf(cluster, a), 'SIGKILL');
    process.kill(pidOf(cluster, b), 'SIGKILL');
    try {
      await cluster.kill(a);
      await cluster.kill(b);
      const loggedIn = new Map<HttpClient, boolean>();
      for (const c of clients) loggedIn.set(c, await isLoggedIn(c));
      for (const c of clients) expect({ lost: !loggedIn.get(c) }).toEqual({ lost: doomed.has(c) });
      // Every proxy holder counts the sessions it saw go (earlier tests' ones too).
      expect((await statsOf(cluster, survivor)).lost - lostBefore).toBeGreaterThanOrEqual(
        doomed.size,
      );
    } finally {
      await cluster.rejoin(a);
      await cluster.rejoin(b);
    }
  }, 90_000);

  it('a replica SIGKILLed under load: 0 failed reads, 0 logouts', async () => {
    const clients = await newClients(cluster, 6, 90);
    const victim = defined(cluster.replicas[1], 'a second replica');
    const crash = (async () => {
      await sleep(500);
      await cluster.kill(victim);
      await sleep(2000);
    })();
    try {
      const tally = await background(clients, crash);
      await crash;
      expect(tally.requests).toBeGreaterThan(50);
      expect(tally.failed).toEqual([]);
      expect(tally.loggedOut).toBe(0);
    } finally {
      await cluster.rejoin(victim);
    }
  }, 60_000);

  it('a graceful leave (scale-in) hands every copy on first: sampled throughout, never fewer than two per session', async () => {
    const clients = await newClients(cluster, 12, 130);
    const before = cluster.replicas;
    /**
     * `pick` summed over `names`. A replica that has exited holds nothing any more (what it held
     * is elsewhere by then); one that still runs but no longer answers (its HTTP server closes
     * before it hands its copies on) cannot be read: no sample then (undefined).
     */
    const total = async (names: readonly string[], pick: (h: Stats['held']) => number) => {
      let n = 0;
      for (const r of names) {
        const held = await statsOf(cluster, r).then(
          (s) => s.held,
          () => undefined,
        );
        if (held) n += pick(held);
        else if (cluster.status().some((m) => m.name === r && m.running)) return undefined;
      }
      return n;
    };
    const copiesOf = (names: readonly string[]) => total(names, (h) => h.primary + h.backup);
    const primariesOf = (names: readonly string[]) => total(names, (h) => h.primary);
    // Earlier tests' re-replication done: two copies of every session to start from.
    const settled = async () => {
      const copies = await copiesOf(before);
      const primaries = await primariesOf(before);
      return primaries !== undefined && copies === 2 * primaries;
    };
    expect(await eventually(settled)).toBe(true);
    const sessions = defined(await primariesOf(before), 'the primaries before the leave');
    expect(sessions).toBeGreaterThanOrEqual(clients.length);
    const samples: number[] = [];
    let draining = true;
    // Not an inline async IIFE: the compiler would read `draining` as always true in it.
    const sample = async () => {
      while (draining) {
        const copies = await copiesOf(before);
        if (copies !== undefined) samples.push(copies);
        await sleep(20);
      }
    };
    const sampler = sample();
    try {
      await cluster.scale(before.length - 1);
      await sleep(200); // and a few samples once it has gone
    } finally {
      draining = false;
      await sampler;
    }
    expect(samples.length).toBeGreaterThan(3);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2 * sessions);
    // Once it has left: exactly two copies of every session again, nobody logged out.
    expect(await eventually(async () => (await copiesOf(cluster.replicas)) === 2 * sessions)).toBe(
      true,
    );
    for (const c of clients) expect(await isLoggedIn(c)).toBe(true);
    await cluster.scale(before.length);
  }, 60_000);

  it('a joining replica receives the locations (proxies), not the values', async () => {
    const clients = await newClients(cluster, 6, 110);
    const joiner = defined(cluster.replicas[2], 'a third replica');
    await cluster.kill(joiner);
    for (const c of clients) expect(await isLoggedIn(c)).toBe(true);
    await cluster.rejoin(joiner);
    const held = (await statsOf(cluster, joiner)).held;
    expect(held.primary).toBe(0);
    expect(held.backup).toBe(0);
    expect(held.proxy).toBeGreaterThanOrEqual(clients.length);
  }, 60_000);

  it('a holder that does not answer: the fetch is bounded (503, no hang); once it is back, the session is too', async () => {
    const client = await newClient(cluster, 130);
    const p = await placementOf(client);
    const proxy = defined(p.proxies[0], 'a proxy holder');
    const backupPid = pidOf(cluster, backupOf(p));
    process.kill(backupPid, 'SIGSTOP');
    try {
      await cluster.kill(p.primary);
      const started = performance.now();
      const res = await whoami(cluster.direct(proxy, client));
      const took = performance.now() - started;
      expect(res.status).toBe(503);
      expect(took).toBeLessThan(1500);
    } finally {
      process.kill(backupPid, 'SIGCONT');
    }
    try {
      expect(await eventually(() => isLoggedIn(cluster.direct(proxy, client)), 15_000)).toBe(true);
    } finally {
      await cluster.rejoin(p.primary);
    }
  }, 60_000);

  it('logout and revocation are final on the primary, the backup and the proxies', async () => {
    const name = uniqueName('final');
    const laptop = cluster.client(150);
    expect((await register(laptop, name)).status).toBe(201);
    const phone = cluster.client(151);
    expect((await login(phone, name)).status).toBe(200);
    const list = (await laptop.get('/api/sessions')).body as {
      sessions: Array<{ id: string; current: boolean }>;
    };
    expect(list.sessions).toHaveLength(2);
    const phoneId = defined(
      list.sessions.find((s) => !s.current),
      "the phone's session",
    ).id;
    expect((await laptop.delete(`/api/sessions/${phoneId}`)).status).toBe(204);
    expect(await knownOn(cluster, phone)).toEqual(
      Object.fromEntries(cluster.replicas.map((r) => [r, false])),
    );
    const old = laptop.clone();
    expect((await logout(laptop)).status).toBe(204);
    await sleep(1500); // a batch of accesses goes out meanwhile: it revives nothing
    expect(await knownOn(cluster, old)).toEqual(
      Object.fromEntries(cluster.replicas.map((r) => [r, false])),
    );
  });
});
