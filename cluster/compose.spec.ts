import type { z } from 'zod';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { AppConfig } from '../src/config/app-config.js';
import { defined } from '../src/common/defined.js';
import { committedCompose, generateCompose } from './compose.js';
import { isServiceOf } from './services/service.js';
import { backendOf, profileNames, profileOf, replicaNames } from './profiles.js';

interface Service {
  profiles?: string[];
  environment?: Record<string, string | number | boolean>;
  depends_on?: Record<string, { condition: string }>;
  build?: unknown;
  image?: string;
  ports?: string[];
  healthcheck?: unknown;
}

const generated = await generateCompose();
// Every replica merges its profile's anchors: more aliases than yaml's guard against alias bombs
// allows by default (100), in a file we write ourselves.
const services = (
  parse(generated, { merge: true, maxAliasCount: 10_000 }) as { services: Record<string, Service> }
).services;

/** What a user must set themselves: the compose file holds no default for it (no committed secret). */
const USER_SET = { REPLICATION_SECRET: 'r'.repeat(43) };

/** Compose's `${VAR:-default}` with only USER_SET in the environment. */
const interpolate = (value: string, vars: Record<string, string> = USER_SET) =>
  value.replace(
    /\$\{([A-Z_]+):-([^}]*)\}/g,
    (_, name: string, fallback: string) => vars[name] ?? fallback,
  );

const enabled = (profile: string) =>
  Object.entries(services).filter(([, s]) => !s.profiles || s.profiles.includes(profile));

/** A service that runs the app: its environment names the replica. */
type Replica = Service & Required<Pick<Service, 'environment'>>;
const isReplica = (s: Service): s is Replica => Boolean(s.environment?.REPLICA_NAME);

describe('docker-compose.yml', () => {
  it('is what `npm run compose:generate` writes (run it after changing the table or a plugin)', async () => {
    expect(await committedCompose()).toBe(generated);
  });

  it('comes out the same every time', async () => {
    expect(await generateCompose()).toBe(generated);
  });

  it('builds the app image in one service only (up --build builds it once)', () => {
    expect(
      Object.entries(services)
        .filter(([, s]) => s.build)
        .map(([n]) => n),
    ).toEqual(['migrate']);
  });

  describe.each(profileNames)('profile %s', (name) => {
    const profile = profileOf(name);
    const replicas = enabled(name)
      .map(([, s]) => s)
      .filter(isReplica);

    it('runs three replicas whose environment the app itself accepts, with the profile backend', () => {
      expect(replicas.map((s) => s.environment.REPLICA_NAME)).toEqual(replicaNames(3));
      for (const s of replicas) {
        const env = Object.fromEntries(
          Object.entries(s.environment).map(([k, v]) => [k, interpolate(String(v))]),
        );
        const config = AppConfig.fromEnv(env);
        expect(config.session.store).toBe(profile.sessions);
        expect(config.profile).toBe(name);
        expect(config.production).toBe(true);
        // The backend's own keys, each handed on by a service of the profile (or a default);
        // an optional key a place does not use (a members file, under DNS) stays unset.
        const shape = backendOf(profile).config.shape as Record<string, z.ZodType>;
        const unsetAllowed = (schema: z.ZodType) => {
          const r = schema.safeParse(undefined);
          return r.success && r.data === undefined;
        };
        expect(Object.keys(config.session.backend as object).sort()).toEqual(
          Object.entries(shape)
            .filter(([k, schema]) => !unsetAllowed(schema) || env[k] !== undefined)
            .map(([k]) => k)
            .sort(),
        );
      }
    });

    it('holds no peer-channel secret: without REPLICATION_SECRET set, its replicas refuse to start', () => {
      if (!backendOf(profile).peerChannel) return;
      for (const s of replicas) {
        const env = Object.fromEntries(
          Object.entries(s.environment).map(([k, v]) => [k, interpolate(String(v), {})]),
        );
        expect(() => AppConfig.fromEnv(env)).toThrow(/REPLICATION_SECRET/);
      }
    });

    it('depends only on services this profile enables, and waits for its backend servers', () => {
      const names = new Set(enabled(name).map(([n]) => n));
      for (const [, s] of enabled(name))
        for (const dep of Object.keys(s.depends_on ?? {})) expect(names).toContain(dep);
      // The backend's servers are named after their plugin: redis, memcached-1, redis-ha-2, ...
      for (const s of replicas)
        for (const server of backendOf(profile).services) {
          const waited = Object.entries(s.depends_on ?? {}).filter(([dep]) =>
            isServiceOf(server, dep),
          );
          expect(waited.length).toBeGreaterThan(0);
          for (const [, dep] of waited) expect(dep).toEqual({ condition: 'service_healthy' });
        }
    });

    it('publishes nginx on loopback, on host ports that HTTP_PORT and HTTPS_PORT can change', () => {
      const published = enabled(name).filter(([, s]) => s.ports);
      expect(published.map(([n]) => n)).toEqual([`${name}-nginx`]);
      expect(defined(published[0], 'the published service')[1].ports).toEqual([
        '${PUBLISH_ADDRESS:-127.0.0.1}:${HTTP_PORT:-8080}:8080',
        '${PUBLISH_ADDRESS:-127.0.0.1}:${HTTPS_PORT:-8443}:8443',
      ]);
    });
  });

  it('starts no container that fetches packages from the network', () => {
    expect(generated).not.toMatch(/apk add|apt-get|npm (install|ci)|pip install|curl /);
  });
});
