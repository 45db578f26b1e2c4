/**
 * The guarantee suite: every profile of the table (cluster/profiles.ts), started for real
 * (the database, its backend's servers, three replicas, nginx), checked against what its row declares
 * — both ways. A property the row promises must hold; one it does not promise must visibly break
 * (sessions kept in one replica's memory are tested to be unknown to the others, ip_hash routing
 * to pile one NAT's clients on one replica). A new row is covered without editing this file.
 *
 * Clients go through nginx, except where a property is about particular replicas (which replica
 * recognises a session, which counts a login attempt): there they address a replica directly.
 */
import { describe, expect, it } from '@jest/globals';
import {
  backendOf,
  guaranteesOf,
  profileNames,
  profileOf,
  type Guarantees,
} from '../cluster/profiles.js';
import { pluginsOf } from '../cluster/services/index.js';
import { useCluster } from './support/cluster.js';
import {
  freshSubnet,
  LOGIN_LIMIT,
  newUser,
  properties,
  REPLICAS,
  SLOW_REPLICA,
  type Property,
} from './support/guarantee-checks.js';
import { whoami } from './support/steps.js';

describe.each(profileNames)('profile %s', (name) => {
  const profile = profileOf(name);
  const guarantees = guaranteesOf(profile);
  const cluster = useCluster(name, {
    env: { SESSION_TOUCH_INTERVAL: '1', LOGIN_MAX_ATTEMPTS: String(LOGIN_LIMIT) },
    replicaEnv: { [SLOW_REPLICA]: { ARGON2_MEMORY_KIB: '131072' } },
  });

  it('starts every member of its plugins, hands the replicas its backend config, serves a login', async () => {
    const status = cluster.status();
    expect([...new Set(status.map((m) => m.service))]).toEqual(
      pluginsOf(profile).map((p) => p.name),
    );
    expect(status.every((m) => m.running && m.pid)).toBe(true);
    expect(cluster.replicas).toEqual(REPLICAS);
    // What the services handed on (and the runner gave each replica for a peer channel) is what
    // the backend's own config schema needs.
    for (const r of cluster.replicas) {
      const env = { ...cluster.env, ...cluster.peerEnv(r) };
      expect(backendOf(profile).config.safeParse(env).success).toBe(true);
    }

    const client = cluster.client(freshSubnet());
    const { home } = await newUser(client);
    expect(cluster.replicas).toContain(home);
    expect((await whoami(cluster.direct(home, client))).body).toMatchObject({
      authenticated: true,
      store: profile.sessions,
      profile: name,
    });
  });

  it('refuses a bad scale or scale-store with one line, and changes nothing', async () => {
    const before = cluster.status().map((m) => [m.name, m.pid]);
    for (const bad of [0, 10, 2.5, NaN])
      await expect(cluster.scale(bad)).rejects.toThrow(/^scale: .*whole number from 1 to 9/);
    const shards = cluster.storeShards();
    if (shards === undefined) {
      // A store that cannot grow says so, and so does a row with no session store at all.
      const backend = backendOf(profile);
      await expect(cluster.scaleStore(2)).rejects.toThrow(
        backend.inCookie
          ? /keeps sessions in their cookies; there is no session store to scale/
          : backend.services.length
            ? /cannot take new servers live/
            : /scale them with scale N/,
      );
    } else {
      await expect(cluster.scaleStore(shards - 1)).rejects.toThrow(/only growing/);
      for (const bad of [0, 99, 1.5])
        await expect(cluster.scaleStore(bad)).rejects.toThrow(/^scale-store: .*whole number/);
    }
    expect(cluster.status().map((m) => [m.name, m.pid])).toEqual(before);
    if (name === profileNames[0]) {
      // One scale at a time (checked on one row: it starts a replica).
      const out = cluster.scale(REPLICAS.length + 1);
      await expect(cluster.scale(REPLICAS.length + 2)).rejects.toThrow(/under way/);
      await out;
      await cluster.scale(REPLICAS.length);
      expect(cluster.replicas).toEqual(REPLICAS);
    }
  });

  for (const [key, property] of Object.entries(properties) as Array<[keyof Guarantees, Property]>) {
    const expected = guarantees[key];
    if (expected === undefined) {
      const absent = property.absent;
      it(`${key}: does not apply (${absent?.why ?? 'no reason given'})`, () => {
        expect(absent?.allowed(guarantees, backendOf(profile))).toBe(true);
      });
      continue;
    }
    it(expected ? property.holds : `BREAKS: ${property.breaks}`, () =>
      property.check(cluster, expected),
    );
  }
});
