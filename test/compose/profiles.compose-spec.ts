/**
 * The compose stage (npm run test:compose, via scripts/test-compose): every profile of the table
 * run from the committed docker-compose.yml on a real Docker engine, with stand-ins for the
 * official images (docker/standins/). Per profile: `up -d --build`, every service healthy (or,
 * for one-shots, exited 0), a login through the published port, the guarantee checks a container
 * deployment can show (sessions shared or the mismatch, a replica container killed, the store
 * restarted), then `down -v` and nothing of it left. A new row is covered without editing this.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMPOSE_FILE } from '../../cluster/compose.js';
import { guaranteesOf, profileNames, profileOf, type Guarantees } from '../../cluster/profiles.js';
import { docker, progress, useComposeProfile } from '../support/compose.js';
import { eventually } from '../support/eventually.js';
import { freshSubnet, newUser, properties } from '../support/guarantee-checks.js';
import { whoami } from '../support/steps.js';

/** The properties a black-box run through nginx (plus `docker exec`, `kill`, `restart`) shows. */
const CHECKED: Array<keyof Guarantees> = [
  'sharedAcrossReplicas',
  'survivesReplicaCrash',
  'survivesStoreRestart',
];
/** Services that run once and exit (`restart: 'no'`): migrate, tls-cert, redis-cluster-create. */
const ONE_SHOTS = Object.entries(
  (
    parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true, maxAliasCount: 10_000 }) as {
      services: Record<string, { restart?: string }>;
    }
  ).services,
)
  .filter(([, s]) => s.restart === 'no')
  .map(([name]) => name);
const APP_IMAGE = 'scaled-login:local';

describe.each(profileNames)('profile %s, docker compose', (name) => {
  const profile = profileOf(name);
  const guarantees = guaranteesOf(profile);
  const stack = useComposeProfile(name);

  it('builds the app image once; its services run healthy, the one-shots exited 0', async () => {
    // docker-compose v1 names each service it builds ("Building migrate"); v2 builds every image
    // in one step, so there the check is the one below: every app container runs one image.
    if (stack.composeV1)
      expect([...stack.upLog.matchAll(/^Building (\S+)$/gm)].map((m) => m[1])).toEqual(['migrate']);
    // A health check runs every 2 s: one that has not run yet says "starting" (nginx, which
    // nothing waits for). Bounded: past that, what each says is asserted below.
    await eventually(
      async () => (await stack.containers()).every((c) => c.health !== 'starting'),
      30_000,
      500,
    );
    const containers = await stack.containers();
    const appImage = await docker('image', 'inspect', '-f', '{{.Id}}', APP_IMAGE);
    for (const c of containers) {
      if (ONE_SHOTS.includes(c.service)) {
        expect([c.service, c.status, c.exitCode]).toEqual([c.service, 'exited', 0]);
      } else {
        expect([c.service, c.status]).toEqual([c.service, 'running']);
        if (c.health !== undefined) expect([c.service, c.health]).toEqual([c.service, 'healthy']);
      }
    }
    const app = containers.filter((c) => c.service === 'migrate' || /-app-\d+$/.test(c.service));
    expect(app.length).toBe(1 + stack.replicas.length);
    expect(new Set(app.map((c) => c.image))).toEqual(new Set([appImage]));
  });

  it('serves a login through the published port, from a replica with its session backend', async () => {
    const client = stack.client(freshSubnet());
    const { home } = await newUser(client);
    expect(stack.replicas).toContain(home);
    // Asked where it logged in: through nginx, the next request may go to another replica.
    expect((await whoami(stack.direct(home, client))).body).toMatchObject({
      authenticated: true,
      store: profile.sessions,
      profile: name,
    });
  });

  for (const key of CHECKED) {
    const expected = guarantees[key];
    if (expected === undefined) continue; // no store servers to restart: nothing to show
    const property = properties[key];
    it(
      expected ? property.holds : `BREAKS: ${property.breaks}`,
      async () => {
        progress(`${name}: ${key} (${expected ? 'holds' : 'breaks'})`);
        await property.check(stack, expected);
      },
      120_000,
    );
  }

  it('down -v removes its containers, network and volumes: nothing left', async () => {
    await stack.down();
    expect(await stack.leftovers()).toEqual([]);
    await stack.removeLogs();
    progress(`${name}: done in ${Math.round((Date.now() - stack.startedAt) / 1000)} s`);
  }, 150_000);
});
