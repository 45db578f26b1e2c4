/**
 * The runner's dashboard (cluster/dashboard/), in Debian's Chromium against real clusters: start
 * the simulated clients, kill the replica that holds the most of them, and read the timeline.
 * With `sticky` that replica's clients are logged out (the event counts them); with `redis`
 * nobody is; with `redis-ha` the store's primary is killed and the promotion shows up.
 * Screenshots land in test/artifacts/.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { serveDashboard, type Dashboard } from '../cluster/dashboard/server.js';
import { dashboardCommand, nextSnapshot } from './support/dashboard.js';
import { ARTIFACTS, useBrowser } from './support/browser.js';
import type { ProfileName } from '../cluster/profiles.js';
import { accessLogOf } from '../cluster/services/nginx.js';
import { defined } from '../src/common/defined.js';
import { useCluster, type TestCluster } from './support/cluster.js';
import { eventually } from './support/eventually.js';
import { HttpClient } from './support/http-client.js';

const CLIENTS = 24;
const browser = useBrowser();

/** A profile's cluster with the dashboard on it, for the enclosing `describe`. */
function useDashboard(profile: ProfileName): { cluster: TestCluster; dashboard: () => Dashboard } {
  const cluster = useCluster(profile);
  let dashboard: Dashboard | undefined;
  beforeAll(async () => {
    dashboard = await serveDashboard(cluster, { nginxAccessLog: accessLogOf(cluster.workDir) });
  });
  afterAll(async () => {
    await dashboard?.close();
  });
  return { cluster, dashboard: () => defined(dashboard, 'the dashboard beforeAll started') };
}

/** The simulated clients per replica, as the dashboard's session table shows them. */
async function simulatedPerReplica(page: Page, replicas: readonly string[]) {
  const out: Record<string, number> = {};
  for (const r of replicas)
    out[r] = Number(await page.locator(`#sessions tr[data-replica="${r}"] td.sim`).innerText());
  return out;
}

/** Opens the dashboard, starts the clients, kills the busiest replica; returns its event row. */
async function killBusiestReplica(cluster: TestCluster, dashboard: Dashboard) {
  const page = await browser().newPage();
  await page.goto(dashboard.url);
  await page.locator('#connection', { hasText: 'live' }).waitFor({ timeout: 10_000 });
  await page.fill('#sim-count', String(CLIENTS));
  await page.click('#sim-start');
  await page
    .locator('#sim-state', { hasText: `${CLIENTS} logged in` })
    .waitFor({ timeout: 30_000 });
  // Wait until every client has been answered while logged in (the table counts them).
  let perReplica: Record<string, number> = {};
  for (let i = 0; i < 30; i++) {
    perReplica = await simulatedPerReplica(page, cluster.replicas);
    if (Object.values(perReplica).reduce((a, b) => a + b, 0) === CLIENTS) break;
    await page.waitForTimeout(500);
  }
  const [busiest, held] = defined(
    Object.entries(perReplica).sort((a, b) => b[1] - a[1])[0],
    'a replica in the sessions table',
  );
  expect(held).toBeGreaterThan(0);

  await page.click(`#members button[data-cmd="kill"][data-member="${busiest}"]`);
  const event = page.locator(`#timeline tr[data-member="${busiest}"]`).last();
  await event.waitFor({ timeout: 10_000 });
  await expect(event.innerText()).resolves.toContain('killed (SIGKILL)');
  return { page, busiest, held, event };
}

describe('dashboard, profile sticky', () => {
  const { cluster, dashboard } = useDashboard('sticky');

  it("shows the killed replica's clients logged out, counted on its event", async () => {
    const { page, busiest, held, event } = await killBusiestReplica(cluster, dashboard());
    const count = event.locator('td[data-logged-out]');
    const loggedOut = async () => Number(await count.getAttribute('data-logged-out'));
    // Within the window in which the timeline blames a logout on its last event (30 s): on a
    // loaded machine the simulated clients' next reads can take a while to come round.
    expect(await eventually(async () => (await loggedOut()) > 0, 30_000)).toBe(true);
    expect(await loggedOut()).toBeLessThanOrEqual(held);
    await expect(
      page.locator(`#members tr[data-member="${busiest}"]`).innerText(),
    ).resolves.toContain('DOWN');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sticky.png'), fullPage: true });
    await page.close();
    await cluster.rejoin(busiest);
  }, 90_000);

  it('refuses every request without its token, and is not reachable through nginx', async () => {
    const { url, token } = dashboard();
    const base = new URL(url).origin;
    for (const path of ['/', '/events', '/dashboard.js', `/?token=${token.slice(1)}x`])
      expect((await fetch(base + path)).status).toBe(403);
    const post = await fetch(`${base}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cmd: 'kill', member: 'app-1' }),
    });
    expect(post.status).toBe(403);
    // Another Host (a DNS-rebinding page) is refused even with the token.
    const rebound = await new HttpClient(base).get(`/?token=${token}`, {
      headers: { host: 'evil.example' },
    });
    expect(rebound.status).toBe(403);
    // nginx forwards to the app only: no dashboard there, and the replicas' view is not forwarded.
    const viaNginx = await fetch(`${cluster.url}/events?token=${token}`);
    expect(viaNginx.headers.get('content-type')).not.toContain('event-stream');
    for (const path of ['/internal/sessions', '/INTERNAL/sessions', '/%69nternal/sessions'])
      expect((await fetch(cluster.url + path)).status).toBe(404);
    expect(cluster.status().every((m) => m.running)).toBe(true); // the refused kill did nothing
  });
});

describe('dashboard, profile redis', () => {
  const { cluster, dashboard } = useDashboard('redis');

  it('shows the same kill with nobody logged out, and the sessions in Redis', async () => {
    const { page, busiest, event } = await killBusiestReplica(cluster, dashboard());
    // Every client has read a few times since the kill (twice a second each) ...
    const requestsNow = async () =>
      Number(/(\d+) requests/.exec(await page.locator('#sim-state').innerText())?.[1] ?? 0);
    const target = (await requestsNow()) + 4 * CLIENTS;
    expect(await eventually(async () => (await requestsNow()) >= target, 30_000)).toBe(true);
    // ... and none was logged out: the event says 0, and so does the clients' own count.
    expect(await event.locator('td[data-logged-out]').getAttribute('data-logged-out')).toBe('0');
    await expect(page.locator('#sim-state').innerText()).resolves.toContain('0 logouts seen');
    await expect(page.locator('#sessions').innerText()).resolves.toMatch(/Redis\s+\d+ keys?/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-redis.png'), fullPage: true });
    await page.close();
    await cluster.rejoin(busiest);
  }, 90_000);

  it('scales the replicas out and in with + and −, and says so on the timeline', async () => {
    const page = await browser().newPage();
    await page.goto(dashboard().url);
    await page.locator('#replica-count', { hasText: '3' }).waitFor({ timeout: 10_000 });
    await page.click('#scale-out');
    await page.locator('#replica-count', { hasText: '4' }).waitFor({ timeout: 60_000 });
    await page.locator('#members button[data-member="app-4"]').first().waitFor();
    await page.locator('#timeline', { hasText: 'scaled 3 → 4' }).waitFor({ timeout: 10_000 });
    expect(cluster.replicas).toEqual(['app-1', 'app-2', 'app-3', 'app-4']);
    // nginx sends app-4 requests now.
    const served = new Set<string | undefined>();
    const client = cluster.client();
    for (let i = 0; i < 8; i++) served.add((await client.get('/api/whoami')).servedBy);
    expect(served).toContain('app-4');
    await page.click('#scale-in');
    await page.locator('#replica-count', { hasText: '3' }).waitFor({ timeout: 60_000 });
    await page.locator('#timeline', { hasText: 'scaled 4 → 3' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#members button[data-member="app-4"]').count()).toBe(0);
    expect(cluster.replicas).toEqual(['app-1', 'app-2', 'app-3']);
    await page.close();
  }, 120_000);
});

describe('dashboard, profile redis-ha', () => {
  const { cluster, dashboard } = useDashboard('redis-ha');

  it("marks the store's primary, and shows the replica's promotion when the primary is killed", async () => {
    const pair = defined(await cluster.storeFailover(), "the store's failover pair");
    expect((await nextSnapshot(dashboard())).primary).toBe(pair.primary);
    const killed = await dashboardCommand(dashboard(), { cmd: 'kill', member: pair.primary });
    expect(killed.status).toBe(200);
    // Sentinel notices in about a second (down-after-milliseconds), then promotes a replica.
    const promoted = async () => {
      const s = await nextSnapshot(dashboard());
      return (
        pair.replicas.includes(s.primary ?? '') &&
        s.events.some((e) => e.member === s.primary && e.what.startsWith('promoted'))
      );
    };
    expect(await eventually(promoted, 30_000, 500)).toBe(true);
    const events = (await nextSnapshot(dashboard())).events.map((e) => [e.member, e.what]);
    expect(events[0]).toEqual([pair.primary, 'killed (SIGKILL)']);
  }, 60_000);
});
