/**
 * The profile table: how sessions survive being spread over replicas, one row per profile. A row
 * names how nginx routes (a strategy in routing/) and where sessions live (a backend record in
 * src/session/backends/, which names the servers it needs: plugins in services/). Everything else
 * follows from the row: the native runner, docker-compose.yml (generated: npm run compose:generate),
 * the e2e guarantee suite (test/guarantees.e2e-spec.ts) and the benchmark.
 */
import { sessionBackends, type SessionStoreName } from '../src/session/backends/index.js';
import type { SessionBackendRecord } from '../src/session/backends/backend.js';
import type { Promises } from './faults/history.js';
import { routingStrategies, type RoutingName } from './routing/index.js';

/**
 * What a profile promises, and so what it must visibly break where it does not: the guarantee
 * suite checks each property both ways, through nginx against the real processes.
 */
export interface DeclaredGuarantees {
  /** A session made on one replica is recognised by every replica. */
  sharedAcrossReplicas: boolean;
  /** A client whose replica is SIGKILLed stays logged in (nginx sends it elsewhere). */
  survivesReplicaCrash: boolean;
  /** Sessions outlive a restart of the store's servers. Only for backends that have servers. */
  survivesStoreRestart?: boolean;
  /**
   * Sessions outlive a restart of the whole cluster (every member stopped, then the cluster
   * started again on the state it left): they are on disk somewhere, not only in memory.
   */
  survivesClusterRestart: boolean;
  /** Clients behind one address (one NAT) are spread over the replicas, not piled on one. */
  natClientsSpread: boolean;
  /**
   * Scaling out while clients read (3 → 5 replicas) logs nobody out and fails no request. Left
   * out where sessions are never shared and routing never keeps a client anyway (`naive`).
   */
  survivesScaleOut?: boolean;
  /**
   * A graceful scale-in while clients read (5 → 2 replicas: nginx lets them go, they drain) logs
   * nobody out and fails no request.
   */
  survivesScaleIn?: boolean;
  /**
   * One more store shard added while clients read (`scale-store`: a memcached node, a Cluster
   * master) logs nobody out and fails no request. Only for stores that take new servers live.
   */
  survivesStoreScaleOut?: boolean;
  /**
   * Logout and revocation are final where the session lives: the old cookie fails on every
   * replica, also after a request that was in flight finishes later.
   */
  logoutFinal: boolean;
}

/** The declared guarantees and those that follow from the session backend's scope. */
export interface Guarantees extends DeclaredGuarantees {
  /** The login-attempt limit counts attempts on every replica together. */
  loginLimitClusterWide: boolean;
  /** "My sessions" lists (and revokes) the user's sessions on every replica. */
  sessionListClusterWide: boolean;
}

/**
 * What a profile promises once a network fault has healed and its copies converged: the network
 * mode's history check holds it to `promises` (test/network-faults.e2e-spec.ts), and the
 * reliability page prints them with `limits`.
 */
export interface NetworkPromises {
  /** The partitions it holds under: any split of its members, or one member cut off at a time. */
  partitions: 'any-split' | 'one-member';
  promises: Promises;
  /** Replica settings the promises need (e.g. durable logins). */
  env?: Readonly<Record<string, string>>;
  /** What it does not promise under a partition, and why: a line each. */
  limits: readonly string[];
}

export interface Profile {
  name: string;
  routing: RoutingName;
  /** SESSION_STORE of every replica: a backend record in src/session/backends/. */
  sessions: SessionStoreName;
  /** One line for the status table and the README. */
  shows: string;
  guarantees: DeclaredGuarantees;
  /** Absent: not run under network faults yet. */
  networkFaults?: NetworkPromises;
}

/** What a separate store promises, whichever servers hold it. */
const sharedStore = {
  sharedAcrossReplicas: true,
  survivesReplicaCrash: true,
  survivesStoreRestart: true,
  survivesScaleOut: true,
  survivesScaleIn: true,
  // Redis with its append-only file on, as a production session store runs.
  survivesClusterRestart: true,
  natClientsSpread: true,
  logoutFinal: true,
} as const;

/**
 * Sessions in one replica's memory, each client pinned to it by its address: it keeps its
 * session while its replica lives and the replica count stays; one NAT is one client.
 */
const pinnedByAddress = {
  sharedAcrossReplicas: false,
  survivesReplicaCrash: false,
  survivesScaleOut: false,
  survivesScaleIn: false,
  survivesClusterRestart: false,
  natClientsSpread: false,
  logoutFinal: true,
} as const;

export const profiles = {
  naive: {
    name: 'naive',
    routing: 'round-robin',
    sessions: 'memory',
    shows: 'the failure: logged in on one replica, unknown on the others',
    guarantees: {
      sharedAcrossReplicas: false,
      survivesReplicaCrash: false,
      survivesClusterRestart: false,
      natClientsSpread: true,
      logoutFinal: true,
    },
  },
  sticky: {
    name: 'sticky',
    routing: 'ip-hash',
    sessions: 'memory',
    shows:
      'fix 1, sticky sessions: works per client, but skews load and loses sessions with a replica',
    // ip_hash maps a client over the whole list: a new length moves most clients elsewhere.
    guarantees: pinnedByAddress,
  },
  'sticky-consistent': {
    name: 'sticky-consistent',
    routing: 'consistent-hash',
    sessions: 'memory',
    shows:
      'fix 1 on a hash ring: a new replica count moves about the share that changed, not most clients',
    // The ring moves only the clients of the arcs that changed hands: fewer, but some.
    guarantees: pinnedByAddress,
  },
  'sticky-cookie': {
    name: 'sticky-cookie',
    routing: 'route-cookie',
    sessions: 'memory',
    shows:
      'fix 1 by cookie (ALB, HAProxy, Tomcat jvmRoute): no NAT skew, but a crash still logs its clients out',
    guarantees: {
      sharedAcrossReplicas: false,
      survivesReplicaCrash: false,
      // The cookie keeps every client where it was; the clients of a replica that leaves lose it.
      survivesScaleOut: true,
      survivesScaleIn: false,
      survivesClusterRestart: false,
      natClientsSpread: true,
      logoutFinal: true,
    },
  },
  replicated: {
    name: 'replicated',
    routing: 'round-robin',
    sessions: 'replicated',
    shows:
      'fix 2, session replication (Tomcat DeltaManager): every replica holds every session, no store server',
    guarantees: {
      sharedAcrossReplicas: true,
      survivesReplicaCrash: true,
      // A joiner copies every session before it serves; a leaver's sessions are everywhere.
      survivesScaleOut: true,
      survivesScaleIn: true,
      // Copies in other replicas' memory, and every replica stops.
      survivesClusterRestart: false,
      natClientsSpread: true,
      logoutFinal: true,
    },
    networkFaults: {
      partitions: 'any-split',
      promises: { loginsKept: true, logoutFinal: true, revokeFinal: false, writesKept: true },
      limits: [
        'a revocation or password change reaches only the sessions its side of a partition knows: one made on the other side lives on',
      ],
    },
  },
  backup: {
    name: 'backup',
    routing: 'route-cookie',
    sessions: 'backup',
    shows:
      "Tomcat's BackupManager: a primary and one backup per session, a proxy elsewhere; 2 copies whatever the size",
    guarantees: {
      // Every replica recognises a session: a proxy holder fetches the copy and takes it over.
      sharedAcrossReplicas: true,
      survivesReplicaCrash: true,
      // A joiner gets the locations; a leaver hands its copies on before it goes.
      survivesScaleOut: true,
      survivesScaleIn: true,
      // Copies in other replicas' memory, and every replica stops.
      survivesClusterRestart: false,
      natClientsSpread: true,
      logoutFinal: true,
    },
    networkFaults: {
      partitions: 'any-split',
      promises: { loginsKept: true, logoutFinal: true, revokeFinal: false, writesKept: true },
      limits: [
        'a revocation or password change reaches only the sessions its side of a partition knows: one made on the other side lives on',
      ],
    },
  },
  redis: {
    name: 'redis',
    routing: 'round-robin',
    sessions: 'redis',
    shows: 'fix 3, a shared session store: any replica serves any request, replicas may die',
    guarantees: sharedStore,
  },
  'redis-ha': {
    name: 'redis-ha',
    routing: 'round-robin',
    sessions: 'redis-ha',
    shows:
      "the store's single point of failure removed: Sentinel promotes a replica; what async replication loses",
    guarantees: sharedStore,
    networkFaults: {
      partitions: 'one-member',
      promises: { loginsKept: true, logoutFinal: true, revokeFinal: false, writesKept: false },
      env: { REDIS_DURABLE_LOGINS: 'true' },
      limits: [
        'without durable logins, a primary cut off with clients still on it acknowledges logins and logouts that the heal undoes',
        'a split that leaves the old primary with a replica loses even durable logins: WAIT 1 is answered on the losing side',
        'profile edits and revocations do not wait for a replica: the isolated primary may take them, and the heal undoes them',
      ],
    },
  },
  'redis-cluster': {
    name: 'redis-cluster',
    routing: 'round-robin',
    sessions: 'redis-cluster',
    shows:
      'the store scaled out past one node: sessions spread over 3 masters, each with two replicas',
    // A new master gets its slots key by key (MIGRATE) while clients follow MOVED and ASK.
    guarantees: { ...sharedStore, survivesStoreScaleOut: true },
  },
  postgres: {
    name: 'postgres',
    routing: 'round-robin',
    sessions: 'postgres',
    shows: 'a disk database as the session store (Spring Session JDBC): what it costs per request',
    guarantees: {
      sharedAcrossReplicas: true,
      survivesReplicaCrash: true,
      survivesStoreRestart: true,
      survivesScaleOut: true,
      survivesScaleIn: true,
      survivesClusterRestart: true,
      natClientsSpread: true,
      logoutFinal: true,
    },
  },
  memcached: {
    name: 'memcached',
    routing: 'round-robin',
    sessions: 'memcached',
    shows:
      'several store nodes without copies: a dead node logs out its share of users, nobody else',
    guarantees: {
      sharedAcrossReplicas: true,
      survivesReplicaCrash: true,
      // Memory only, no copies: a restarted node is empty.
      survivesStoreRestart: false,
      // The replicas scale, not the nodes: sessions stay where they are.
      survivesScaleOut: true,
      survivesScaleIn: true,
      // A new node wins its share of the keys (rendezvous hashing), and has none of them.
      survivesStoreScaleOut: false,
      survivesClusterRestart: false,
      natClientsSpread: true,
      logoutFinal: true,
    },
  },
  stateless: {
    name: 'stateless',
    routing: 'round-robin',
    sessions: 'stateless',
    shows:
      'fix 4, no server-side session: sealed into the cookie, read by any replica; logout ends only the one copy',
    guarantees: {
      sharedAcrossReplicas: true,
      survivesReplicaCrash: true,
      survivesScaleOut: true,
      survivesScaleIn: true,
      // In the browser, opened by a key from the configuration that the restart keeps.
      survivesClusterRestart: true,
      natClientsSpread: true,
      // A copy of the cookie (stolen, or a request in flight) stays valid until it expires.
      logoutFinal: false,
    },
  },
  'stateless-revocable': {
    name: 'stateless-revocable',
    routing: 'round-robin',
    sessions: 'stateless-revocable',
    shows: 'fix 4 made final: the sealed cookie plus a denylist in Redis, one lookup per request',
    // The denylist in Redis (append-only file on) outlives its restart; the sessions are cookies.
    guarantees: sharedStore,
  },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof profiles;
export const profileNames = Object.keys(profiles) as ProfileName[];

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(profiles, name);
}

export function profileOf(name: ProfileName): Profile {
  return profiles[name];
}

/** The profile's session backend record. */
export function backendOf(profile: Profile): SessionBackendRecord {
  return sessionBackends[profile.sessions];
}

export function routingOf(profile: Profile) {
  return routingStrategies[profile.routing];
}

export function guaranteesOf(profile: Profile): Guarantees {
  const { scope } = backendOf(profile);
  return {
    ...profile.guarantees,
    loginLimitClusterWide: scope.loginLimit === 'cluster',
    sessionListClusterWide: scope.sessionList === 'cluster',
  };
}

/** Replica names: app-1, app-2, ... (REPLICA_NAME, X-Served-By, the page banner). */
export function replicaNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `app-${i + 1}`);
}
