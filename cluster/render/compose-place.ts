/**
 * Compose's place: every server in its own container on its usual port, reached by its service
 * name, its state on a volume. Kept apart from the compose file writer (and its YAML library):
 * the one-shot `prepare` containers describe the servers again, from the app image.
 */
import { profileNames, profileOf, replicaNames, type Profile } from '../profiles.js';
import type { Described, Place } from '../services/description.js';
import { pluginsOf } from '../services/index.js';
import type { ServicePlugin } from '../services/service.js';

/** The demo secret compose falls back to: public, so production refuses nothing but it is marked. */
const DEMO_SECRET =
  '${SESSION_SECRET:-demo-only-public-secret-for-docker-compose-not-for-real-use}';

/** The peer port every replica listens on inside its container (never published, never proxied). */
const COMPOSE_PEER_PORT = 4000;
/** The network alias every replica of the running profile shares: its peers, by DNS. */
const COMPOSE_PEER_ALIAS = 'replicas';

/**
 * REPLICATION_* of a replica in compose: it listens on the compose network and finds its peers
 * by DNS, every address behind the alias all replicas share (Docker's embedded DNS answers with
 * every container's; one more replica is one more address, no list to change). The secret comes
 * from the environment only: nothing committed holds one, and without it the replicas refuse to
 * start (config validation names the key).
 */
const COMPOSE_PEER_ENV = {
  REPLICATION_PORT: String(COMPOSE_PEER_PORT),
  REPLICATION_HOST: '0.0.0.0',
  REPLICATION_SECRET: '${REPLICATION_SECRET:-}',
  REPLICATION_MEMBERSHIP: 'dns',
  REPLICATION_DNS_NAME: COMPOSE_PEER_ALIAS,
};

/** A profile's replica (or nginx) as a compose service: one per profile, named after it. */
export const replicaService = (profile: Profile, replica: string) => `${profile.name}-${replica}`;

/** Compose's network: every server in its own container, on its usual port. */
export function composePlace(): Place {
  return {
    kind: 'compose',
    bind: '0.0.0.0',
    portsMove: false,
    byName: true,
    root: false,
    port: async (_key, standard) => standard,
    host: (service) => service,
    // Resolved in the container when the command runs (getent, as compose has no IP to give).
    ip: (service) => `$(getent hosts ${service} | cut -d' ' -f1)`,
    dir: (_key, standard) => standard,
    app: {
      replicas: replicaNames(3),
      script: 'dist/main.js',
      secret: async () => DEMO_SECRET,
      trustProxy: 'loopback, uniquelocal',
      overrides: () => ({}),
      peers: async () => ({ envFor: () => COMPOSE_PEER_ENV, alias: COMPOSE_PEER_ALIAS }),
    },
  };
}

export interface DescribedPlugin {
  profile: Profile;
  plugin: ServicePlugin;
  described: Described;
}

/** What each plugin describes for each profile, in compose's place (or another). */
export async function describeAll(placeOf: () => Place = composePlace): Promise<DescribedPlugin[]> {
  const out: DescribedPlugin[] = [];
  for (const name of profileNames) {
    const profile = profileOf(name);
    const place = placeOf();
    const env: Record<string, string> = {};
    const servers: string[] = [];
    for (const plugin of pluginsOf(profile)) {
      const described = await plugin.describe(place, {
        profile,
        env: { ...env },
        servers: [...servers],
        options: {},
      });
      out.push({ profile, plugin, described });
      Object.assign(env, described.env);
      servers.push(...described.units.map((u) => u.service));
    }
  }
  return out;
}
