/**
 * The profile table: how sessions survive being spread over replicas, one row per profile.
 * The native runner reads it, the e2e tests iterate it, and a test checks docker-compose.yml
 * against it. A new profile is a new row here (plus its services in the compose file).
 */

/** How nginx picks a replica. */
export type UpstreamPolicy = 'round-robin' | 'ip-hash';

/** Extra services a profile needs besides Postgres, nginx and the replicas. */
export type ExtraService = 'redis';

export interface Profile {
  name: string;
  upstream: UpstreamPolicy;
  /** SESSION_STORE of every replica: a backend in src/session/backends/. */
  store: 'memory' | 'redis';
  services: readonly ExtraService[];
  /** One line for the status table and the README. */
  shows: string;
}

export const profiles = {
  naive: {
    name: 'naive',
    upstream: 'round-robin',
    store: 'memory',
    services: [],
    shows: 'the failure: logged in on one replica, unknown on the others',
  },
  sticky: {
    name: 'sticky',
    upstream: 'ip-hash',
    store: 'memory',
    services: [],
    shows:
      'fix 1, sticky sessions: works per client, but skews load and loses sessions with a replica',
  },
  redis: {
    name: 'redis',
    upstream: 'round-robin',
    store: 'redis',
    services: ['redis'],
    shows: 'fix 3, a shared session store: any replica serves any request, replicas may die',
  },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof profiles;
export const profileNames = Object.keys(profiles) as ProfileName[];

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(profiles, name);
}

/** The nginx directive for a policy (round-robin is nginx's default: no directive). */
export function upstreamDirective(policy: UpstreamPolicy): string {
  switch (policy) {
    case 'round-robin':
      return '';
    case 'ip-hash':
      // Keys on the first three octets of an IPv4 address: one /24 is one client to it.
      return 'ip_hash;';
  }
}

/** Replica names: app-1, app-2, ... (REPLICA_NAME, X-Served-By, the page banner). */
export function replicaNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `app-${i + 1}`);
}
