/**
 * Hostile input on the sealed session cookie, generated (the HostilePort of hostile/harness.ts,
 * next to the HTTP and peer ports): a `stateless-revocable` cluster, where the whole session
 * travels in its cookie. Forged, truncated, oversized cookies, and genuine-looking ones replayed
 * after their expiry, after their key was retired, after a logout and after a cut-off ("log out
 * my other sessions"): none logs anyone in, none gets a 5xx, none changes what is stored. The
 * victim's own session outlives them all.
 *
 * Runs: 1,000 cases by default; HOSTILE_RUNS / HOSTILE_SEED / HOSTILE_PATH as for the HTTP suite.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defined } from '../src/common/defined.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import type { HttpClient } from './support/http-client.js';
import { login, logout, register, uniqueName, whoami } from './support/steps.js';
import { clusterWorld, type ClusterWorld } from './hostile/cluster-world.js';
import { CookiePort, type CookieTarget } from './hostile/cookie-port.js';
import { runHostile, settingsFromEnv } from './hostile/harness.js';

const settings = { ...settingsFromEnv(), runs: Number(process.env.HOSTILE_RUNS ?? 1000) };
const log = (line: string) => process.stdout.write(`${line}\n`);
const SECRET = 'hostile-cookie-suite-current-secret-0123456789';
const RETIRED = 'hostile-cookie-suite-retired-secret-0123456789';
const COOKIE = 'sid';

let cluster: TestCluster;
let world: ClusterWorld;
let victim: HttpClient;
let target: CookieTarget;
let subnet = 80;
/** What beforeAll got started, stopped last-started first: a failed start leaves a part to stop. */
const stops: Array<() => Promise<void>> = [];

const cookieOf = (c: HttpClient) => defined(c.cookie(COOKIE), 'the session cookie');

beforeAll(async () => {
  // A real rotation: a session begun under the old secret, both accepted while the replicas roll,
  // then the old one dropped. That session's cookie is then a retired key's, sealed by the app.
  cluster = await startTestCluster('stateless-revocable', {
    env: { SESSION_SECRET: RETIRED, LOGIN_MAX_ATTEMPTS: '1000000' },
  });
  stops.push(() => cluster.teardown());
  const veteran = cluster.client(subnet++);
  expect((await register(veteran, uniqueName('hostile-veteran'))).status).toBe(201);
  await cluster.rollingRestart({ SESSION_SECRET: `${SECRET},${RETIRED}` });
  expect(((await whoami(veteran)).body as { authenticated: boolean }).authenticated).toBe(true);
  const retiredCookie = cookieOf(veteran);
  await cluster.rollingRestart({ SESSION_SECRET: SECRET });
  world = await clusterWorld(cluster);
  stops.push(() => world.close());
  victim = cluster.client(subnet++);
  const name = uniqueName('hostile-cookie');
  expect((await register(victim, name)).status).toBe(201);
  const me = (await whoami(victim)).body as {
    user: { id: string; username: string; displayName: string };
  };
  const revoked = [];
  for (let i = 0; i < 3; i++) {
    const device = cluster.client(subnet++);
    expect((await login(device, name)).status).toBe(200);
    const cookie = cookieOf(device);
    expect((await logout(device)).status).toBe(204);
    revoked.push(cookie);
  }
  // Cut off by another session's "log out my other sessions"; the victim logs in after it.
  const other = uniqueName('hostile-cut');
  const laptop = cluster.client(subnet++);
  const phone = cluster.client(subnet++);
  expect((await register(laptop, other)).status).toBe(201);
  expect((await login(phone, other)).status).toBe(200);
  expect((await phone.delete('/api/sessions')).status).toBe(200);
  const now = Date.now();
  target = {
    client: () => cluster.client(subnet++ % 200),
    cookieName: COOKIE,
    secret: SECRET,
    retiredSecret: RETIRED,
    genuine: cookieOf(victim),
    data: {
      passport: { user: me.user },
      meta: { createdAt: now, lastSeenAt: now, ip: '127.0.0.1', userAgent: 'x', replica: 'app-1' },
    },
    revoked,
    cutOff: cookieOf(laptop),
    retired: retiredCookie,
  };
}, 180_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
}, 60_000);

describe('the sealed session cookie, generated hostile cookies', () => {
  it(`refuses every forged, truncated, oversized, expired, retired-key, revoked and cut-off cookie (${settings.runs} cases)`, async () => {
    const port = new CookiePort(target);
    // The fixtures are what they claim: each replayed cookie worked once, and is refused now.
    for (const cookie of [...target.revoked, target.cutOff, target.retired]) {
      const c = target.client();
      c.cookies.set(COOKIE, cookie);
      expect((await c.get('/api/sessions')).status).toBe(401);
    }
    const report = await runHostile([port], world, settings, log);
    expect(report.cases).toBeGreaterThanOrEqual(settings.runs);
    expect(Object.keys(report.byOutcome)).toContain('401');
    // The victim's own cookie still works: nothing above ended it.
    expect(((await whoami(victim)).body as { authenticated: boolean }).authenticated).toBe(true);
  }, 300_000);
});
