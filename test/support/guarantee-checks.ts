/**
 * The guarantee checks: one per property a profile row declares (cluster/profiles.ts), each
 * runnable both ways (the property must hold, or must visibly break). The guarantee suite runs
 * them against native clusters (test/guarantees.e2e-spec.ts); the compose stage runs the ones a
 * container deployment can show against `docker compose` (test/compose/profiles.compose-spec.ts).
 */
import { expect } from '@jest/globals';
import { replicaNames, type Guarantees } from '../../cluster/profiles.js';
import { servicePlugin } from '../../cluster/services/index.js';
import { defined } from '../../src/common/defined.js';
import { sessionBackends, type SessionStoreName } from '../../src/session/backends/index.js';
import { eventually, sleep } from './eventually.js';
import type { HttpClient } from './http-client.js';
import { knownOn, type TestCluster } from './cluster.js';
import { readingCrowd, type ReadOutcome } from './crowd.js';
import { isLoggedIn, login, logout, register, uniqueName, whoami } from './steps.js';

/** What the checks use of a cluster: native (TestCluster) or compose (ComposeCluster). */
export type GuaranteeTarget = Pick<
  TestCluster,
  'replicas' | 'client' | 'direct' | 'kill' | 'rejoin' | 'storeMembers' | 'restart'
> &
  Partial<
    Pick<TestCluster, 'restartCluster' | 'scale' | 'scaleStore' | 'storeShards' | 'replicaPids'>
  >;

/** Hashes with 128 MiB argon2: a password check there takes a few hundred ms (the slow request). */
export const REPLICAS = replicaNames(3);
export const SLOW_REPLICA = defined(REPLICAS.at(-1), 'the last replica');
export const LOGIN_LIMIT = 5;

type Check = (cluster: GuaranteeTarget, expected: boolean) => Promise<void>;

export interface Property {
  /** The test's name when the row promises it, and when the row says it must break. */
  holds: string;
  breaks: string;
  check: Check;
  /** Where a row may leave it out (undefined), and why: checked for every row that does. */
  absent?: {
    why: string;
    allowed(g: Guarantees, backend: { services: readonly string[] }): boolean;
  };
}

const authenticated = (res: { status: number; body: unknown }) =>
  res.status === 200 && (res.body as { authenticated?: boolean }).authenticated === true;

/** Registers a new user through `client`; returns the name and the replica that served it. */
export async function newUser(client: HttpClient): Promise<{ name: string; home: string }> {
  const name = uniqueName('guarantee');
  const res = await register(client, name);
  expect(res.status).toBe(201);
  return { name, home: defined(res.servedBy, 'the replica that registered the user') };
}

/**
 * After a restart (of the store, or of everything): the user, kept in Postgres, can log in again
 * (once the store serves), and `client`'s session is known on every replica, or on none.
 */
export async function expectKnownAfterRestart(
  cluster: Pick<GuaranteeTarget, 'client' | 'direct' | 'replicas'>,
  client: HttpClient,
  name: string,
  expected: boolean,
): Promise<void> {
  const probe = cluster.client(freshSubnet());
  expect(await eventually(async () => (await login(probe, name)).status === 200, 15_000)).toBe(
    true,
  );
  // A store that is still settling answers 503, which says nothing either way: wait it out.
  const settled = async () => {
    for (const r of cluster.replicas)
      if ((await whoami(cluster.direct(r, client))).status === 503) return false;
    return true;
  };
  expect(await eventually(settled, 15_000, 250)).toBe(true);
  expect(await knownOn(cluster, client)).toEqual(
    Object.fromEntries(cluster.replicas.map((r) => [r, expected])),
  );
}

/** Scaling while a crowd reads: 3 → 5 (out), then 5 → 2 (in). */
const READERS = 30;
const SCALED_OUT = 5;
const SCALED_IN = 2;
const readers = () => Array.from({ length: READERS }, () => freshSubnet());

const NEVER_SHARED = {
  why: 'sessions are never shared and no routing keeps a client where its session is',
  allowed: (g: Guarantees) =>
    !g.sharedAcrossReplicas && g.natClientsSpread && !g.survivesReplicaCrash,
};

function scaling(cluster: GuaranteeTarget): (count: number) => Promise<unknown> {
  if (!cluster.scale) throw new Error('this kind of cluster cannot scale');
  return cluster.scale.bind(cluster);
}

/** Holds: not a request failed, nobody logged out. Breaks: readers logged out, still no errors. */
function expectScaled(seen: ReadOutcome, expected: boolean): void {
  expect(seen.requests).toBeGreaterThan(READERS);
  if (expected)
    expect({ failures: seen.failures, loggedOut: seen.loggedOut }).toEqual({
      failures: {},
      loggedOut: 0,
    });
  else expect(seen.loggedOut).toBeGreaterThan(0);
}

let subnet = 1000;
/** A source address no other check of this profile's cluster uses: its own client to nginx. */
export const freshSubnet = () => subnet++;

export const properties: Record<keyof Guarantees, Property> = {
  sharedAcrossReplicas: {
    holds: 'a session made on one replica is recognised by every replica',
    breaks: 'a session is recognised only by the replica that made it (the session mismatch)',
    async check(cluster, expected) {
      const client = cluster.client(freshSubnet());
      const { home } = await newUser(client);
      const known = await knownOn(cluster, client);
      expect(known).toEqual(
        Object.fromEntries(cluster.replicas.map((r) => [r, expected || r === home])),
      );
    },
  },

  survivesReplicaCrash: {
    holds: 'a client whose replica is SIGKILLed stays logged in: nginx sends it elsewhere',
    breaks: 'a client whose replica is SIGKILLed is logged out: nginx fails it over, unknown there',
    async check(cluster, expected) {
      const client = cluster.client(freshSubnet());
      const { home } = await newUser(client);
      expect(await isLoggedIn(cluster.direct(home, client))).toBe(true);
      await cluster.kill(home);
      try {
        const answers = [];
        for (let i = 0; i < 2 * cluster.replicas.length; i++) answers.push(await whoami(client));
        // Failover without an error either way; what differs is whether the session survived.
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
        expect(answers.filter((a) => a.servedBy === home)).toEqual([]);
        expect(answers.map(authenticated)).toEqual(answers.map(() => expected));
      } finally {
        await cluster.rejoin(home);
      }
    },
  },

  survivesStoreRestart: {
    absent: {
      why: 'its backend has no servers to restart',
      allowed: (_g: Guarantees, backend: { services: readonly string[] }) =>
        backend.services.length === 0,
    },
    holds: "sessions outlive a restart of the store's servers",
    breaks: "a restart of the store's servers logs everyone out",
    async check(cluster, expected) {
      const client = cluster.client(freshSubnet());
      const { name } = await newUser(client);
      expect(await isLoggedIn(client)).toBe(true);
      const servers = cluster.storeMembers();
      expect(servers.length).toBeGreaterThan(0);
      for (const member of servers) await cluster.restart(member);
      // Once the whole store serves again (every replica ready: under Redis Cluster, every
      // master answers; a new login works), the old session is there or it is not. A store that
      // is still settling answers 503, which says nothing either way: wait it out.
      const ready = async () => {
        for (const r of cluster.replicas)
          if ((await cluster.direct(r).get('/health/ready')).status !== 200) return false;
        return true;
      };
      expect(await eventually(ready, 30_000, 250)).toBe(true);
      await expectKnownAfterRestart(cluster, client, name, expected);
    },
  },

  survivesClusterRestart: {
    holds:
      'sessions outlive a restart of the whole cluster (every member stopped, then started on its state)',
    breaks: 'a restart of the whole cluster logs everyone out: the sessions lived in memory only',
    async check(cluster, expected) {
      if (!cluster.restartCluster)
        throw new Error('this kind of cluster cannot restart as a whole');
      const client = cluster.client(freshSubnet());
      const { name, home } = await newUser(client);
      expect(await isLoggedIn(cluster.direct(home, client))).toBe(true);
      await cluster.restartCluster();
      await expectKnownAfterRestart(cluster, client, name, expected);
    },
  },

  natClientsSpread: {
    holds: 'clients behind one address (one NAT) are spread over every replica',
    breaks: 'clients behind one address (one NAT) all land on one replica: the skew',
    async check(cluster, expected) {
      const nat = freshSubnet();
      const load = new Map<string, number>(cluster.replicas.map((r) => [r, 0]));
      for (let i = 0; i < 12; i++) {
        const client = cluster.client(nat);
        await newUser(client);
        for (let j = 0; j < 3; j++) {
          const r = defined((await whoami(client)).servedBy, 'the replica that answered whoami');
          load.set(r, defined(load.get(r), `${r}'s count of requests`) + 1);
        }
      }
      const busy = [...load.values()].filter((n) => n > 0).length;
      expect(busy).toBe(expected ? cluster.replicas.length : 1);
    },
  },

  logoutFinal: {
    holds: 'logout is final on every replica, even after a request in flight finishes later',
    breaks: 'a request in flight during the logout brings the session back',
    async check(cluster, expected) {
      // Where the session lives: the slow-hashing replica, so a password check there is slow.
      const device = cluster.direct(SLOW_REPLICA, undefined, freshSubnet());
      await newUser(device);
      await sleep(1100); // past the touch interval (1 s): the slow request will save the session
      const slow = device.clone();
      let slowDone = 0;
      const inFlight = slow
        .post('/api/me/password', {
          json: { currentPassword: 'not the password', newPassword: 'whatever whatever' },
        })
        .then((res) => ((slowDone = performance.now()), res));
      await sleep(50); // it has loaded the session and is hashing
      expect((await logout(device.clone())).status).toBe(204);
      const logoutDone = performance.now();
      const late = await inFlight;
      // It was authenticated when it began (400: wrong current password, not 401)...
      expect(late.status).toBe(400);
      // ...and finished after the logout, so its save came after the session was destroyed.
      expect(slowDone).toBeGreaterThan(logoutDone);
      expect(await knownOn(cluster, device)).toEqual(
        Object.fromEntries(cluster.replicas.map((r) => [r, !expected])),
      );
    },
  },

  loginLimitClusterWide: {
    holds: `${LOGIN_LIMIT} wrong passwords in all lock the username on every replica`,
    breaks: `each replica counts alone: ${REPLICAS.length} replicas allow ${LOGIN_LIMIT * REPLICAS.length} guesses`,
    async check(cluster, expected) {
      const client = cluster.client(freshSubnet());
      const { name } = await newUser(client);
      const statuses = new Map<number, number>();
      // Six wrong passwords at each replica, each from its own address (the per-address limit
      // is not what this checks).
      for (const r of cluster.replicas) {
        for (let i = 0; i < LOGIN_LIMIT + 1; i++) {
          const { status } = await login(
            cluster.direct(r, undefined, freshSubnet()),
            name,
            'wrong',
          );
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }
      const attempts = cluster.replicas.length * (LOGIN_LIMIT + 1);
      const failed = expected ? LOGIN_LIMIT : LOGIN_LIMIT * cluster.replicas.length;
      expect(Object.fromEntries(statuses)).toEqual({ 401: failed, 429: attempts - failed });
      // Locked everywhere now, even for the right password.
      for (const r of cluster.replicas)
        expect((await login(cluster.direct(r, undefined, freshSubnet()), name)).status).toBe(429);
    },
  },

  sessionListClusterWide: {
    holds: "a user's session list shows the sessions on every replica",
    breaks:
      "a user's session list misses the other replica's session: it lists the answering replica's, or only the caller's own where the server keeps none",
    async check(cluster, expected) {
      const [first, second] = cluster.replicas;
      if (first === undefined || second === undefined) throw new Error('expected two replicas');
      const laptop = cluster.direct(first, undefined, freshSubnet());
      const { name } = await newUser(laptop);
      const phone = cluster.direct(second, undefined, freshSubnet());
      expect((await login(phone, name)).status).toBe(200);
      const listed = async () =>
        (await laptop.get('/api/sessions')).body as {
          scope: string;
          sessions: Array<{ current: boolean }>;
        };
      // A cluster-wide list may learn of the phone's session a moment later (replicated sends
      // it asynchronously): it must within seconds. A per-replica list never does.
      if (expected) {
        const both = async () => (await listed()).sessions.length === 2;
        expect(await eventually(both, 5_000)).toBe(true);
      }
      const list = await listed();
      // Which of the two ways it breaks is the backend's declared scope, asked of the replica.
      const { store } = (await whoami(laptop)).body as { store: SessionStoreName };
      expect(list.scope).toBe(expected ? 'cluster' : sessionBackends[store].scope.sessionList);
      expect(list.sessions.map((s) => s.current)).toEqual(expected ? [true, false] : [true]);
    },
  },

  survivesScaleOut: {
    holds: `scaling out ${REPLICAS.length} → ${SCALED_OUT} while ${READERS} clients read fails no request and logs nobody out`,
    breaks: `scaling out ${REPLICAS.length} → ${SCALED_OUT} logs out the readers the routing moved`,
    absent: NEVER_SHARED,
    async check(cluster, expected) {
      const scale = scaling(cluster);
      let passed = false;
      try {
        const crowd = await readingCrowd(cluster, readers());
        const pids = cluster.replicaPids?.();
        expectScaled(await crowd.during(() => scale(SCALED_OUT)), expected);
        // The newcomers joined the running ones: nobody restarted (peers learn of them live).
        expect(cluster.replicaPids?.().slice(0, REPLICAS.length)).toEqual(pids);
        passed = true;
      } finally {
        // Passed: left at SCALED_OUT for the scale-in check, which runs next and starts there
        // (two scales fewer per row). Failed: back to where every other check starts.
        if (!passed) await scale(REPLICAS.length);
      }
    },
  },

  survivesScaleIn: {
    holds: `a graceful scale-in ${SCALED_OUT} → ${SCALED_IN} while ${READERS} clients read fails no request and logs nobody out`,
    breaks: `a graceful scale-in ${SCALED_OUT} → ${SCALED_IN} logs out the readers whose sessions left with their replicas`,
    absent: NEVER_SHARED,
    async check(cluster, expected) {
      const scale = scaling(cluster);
      try {
        await scale(SCALED_OUT); // nothing to do after a passed scale-out check
        const crowd = await readingCrowd(cluster, readers());
        expectScaled(await crowd.during(() => scale(SCALED_IN)), expected);
      } finally {
        await scale(REPLICAS.length);
      }
    },
  },

  survivesStoreScaleOut: {
    absent: {
      why: 'its store cannot take new servers while it serves',
      allowed: (_g: Guarantees, backend: { services: readonly string[] }) =>
        backend.services.every((s) => !servicePlugin(s).grows),
    },
    holds: `one more store shard while ${READERS} clients read fails no request and logs nobody out`,
    breaks: `one more store shard logs out the readers whose keys the new shard won`,
    async check(cluster, expected) {
      if (!cluster.scaleStore || !cluster.storeShards)
        throw new Error('this cluster cannot grow its store');
      const scaleStore = cluster.scaleStore.bind(cluster);
      const shards = defined(cluster.storeShards(), "the store's number of shards");
      expect(shards).toBeGreaterThan(0);
      const crowd = await readingCrowd(cluster, readers());
      const seen = await crowd.during(() => scaleStore(shards + 1));
      expect(cluster.storeShards()).toBe(shards + 1);
      // Either way the replicas' rolling restart (where they are told every server) drains.
      expect(seen.failures).toEqual({});
      expectScaled(seen, expected);
    },
  },
};
