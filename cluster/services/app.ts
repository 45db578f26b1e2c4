/**
 * The app: one migration run, then the replicas of `node dist/main.js`, each ready when its
 * /health/ready answers 200. Every replica gets the environment the plugins before it handed on
 * (DATABASE_URL, REDIS_URL, ...), the profile's SESSION_STORE, what its routing needs of them
 * (ROUTE_COOKIE), its peers where the backend replicates between replicas, and one shared
 * SESSION_SECRET.
 */
import { defined } from '../../src/common/defined.js';
import { backendOf, routingOf } from '../profiles.js';
import type { JobDescription, Place, ServerDescription } from './description.js';
import type { ServicePlugin } from './service.js';

/** The port every replica listens on in a container (nginx reaches app-1:3000, ...). */
export const APP_PORT = 3000;
/** The image the replicas, the migration and the app's other jobs run in. */
export const APP_IMAGE = 'scaled-login:local';

/** What every app process gets: the migration and the replicas. */
async function baseEnv(place: Place): Promise<Record<string, string>> {
  return {
    NODE_ENV: 'production',
    HOST: place.bind,
    // One secret for all: a cookie signed by one replica must verify on the others.
    SESSION_SECRET: await place.app.secret(),
    TRUST_PROXY: place.app.trustProxy,
  };
}

export const appService: ServicePlugin = {
  name: 'app',

  async describe(place, ctx) {
    const { profile } = ctx;
    const base = await baseEnv(place);
    const migrate: JobDescription = {
      service: 'migrate',
      image: APP_IMAGE,
      command: ['node', 'dist/database/migrate.js'],
      env: {
        ...base,
        DATABASE_URL: defined(ctx.env.DATABASE_URL, "the postgres plugin's DATABASE_URL"),
      },
      after: ['postgres'],
      comment:
        'Applies pending migrations once, before any replica starts; exits 0 when the schema is current.',
    };
    const peers = backendOf(profile).peerChannel ? await place.app.peers() : undefined;
    const opened = peers?.opened;
    const closed = peers?.closed;
    const replicas: ServerDescription[] = [];
    for (const name of place.app.replicas) {
      const port = await place.port(name, APP_PORT);
      replicas.push({
        name,
        service: name,
        aliases: peers?.alias ? [peers.alias] : undefined,
        kind: 'replica',
        perProfile: true,
        image: APP_IMAGE,
        command: ['node', place.app.script],
        env: {
          ...base,
          PORT: String(port),
          REPLICA_NAME: name,
          PROFILE: profile.name,
          SESSION_STORE: profile.sessions,
          ...routingOf(profile).replicaEnv,
          ...ctx.env,
          ...peers?.envFor(name),
          ...place.app.overrides(name),
        },
        port,
        ready: { kind: 'http', port, path: '/health/ready' },
        // SIGTERM: Nest closes the server and lets in-flight requests finish.
        stop: { signal: 'SIGTERM', timeoutMs: 10_000 },
        after: ['migrate', ...ctx.servers],
        // Natively, the relays into a replica listen while it runs.
        prepare: opened && (() => opened(name)),
        stopped: closed && (() => closed(name)),
      });
    }
    return { units: [migrate, ...replicas] };
  },

  async started(_servers, ctx) {
    return { peerNetwork: await ctx.place.peerNetwork() };
  },
};
