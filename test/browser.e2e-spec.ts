/**
 * A real browser (Debian's Chromium, driven by playwright-core; no browser download) through
 * nginx: with the shared store the profile page stays logged in while the banner names several
 * replicas; with in-memory sessions the same flow is bounced to the login page.
 * Screenshots land in test/artifacts/.
 */
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { defined } from '../src/common/defined.js';
import { ARTIFACTS, useBrowser } from './support/browser.js';
import { useCluster } from './support/cluster.js';
import { PASSWORD, uniqueName } from './support/steps.js';

const browser = useBrowser();

/** Registers through the form, logs out, then logs in through the form. Ends on /profile. */
async function registerAndLogIn(page: Page, baseUrl: string): Promise<string> {
  const name = uniqueName('web');
  await page.goto(`${baseUrl}/register`);
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.goto(`${baseUrl}/login`);
  // Logged in already on this replica? Log out through the banner's form to test the login form.
  if (await page.locator('form[action="/logout"] button').count())
    await page.click('form[action="/logout"] button');
  await page.goto(`${baseUrl}/login`);
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('form[action="/login"] button[type=submit]');
  return name;
}

/** Reloads /profile `n` times; for each load: the replica in the banner and the final path. */
async function reloadProfile(page: Page, baseUrl: string, n: number) {
  const loads: Array<{ replica: string; path: string }> = [];
  for (let i = 0; i < n; i++) {
    await page.goto(`${baseUrl}/profile`);
    loads.push({
      replica: await page.locator('#served-by').innerText(),
      path: new URL(page.url()).pathname,
    });
  }
  return loads;
}

describe.each([
  ['redis', true],
  ['naive', false],
] as const)('browser, profile %s', (profile, staysLoggedIn) => {
  const cluster = useCluster(profile);

  it(
    staysLoggedIn
      ? 'stays logged in while the banner names several replicas'
      : 'is bounced to the login page',
    async () => {
      const context = await browser().newContext();
      const page = await context.newPage();
      try {
        await registerAndLogIn(page, cluster.url);
        const loads = await reloadProfile(page, cluster.url, 6);
        const replicas = new Set(loads.map((l) => l.replica));
        if (staysLoggedIn) {
          expect(loads.every((l) => l.path === '/profile')).toBe(true);
          expect(replicas.size).toBeGreaterThanOrEqual(2);
          // Let the live view collect a few answers for the screenshot.
          await page.locator('#live-strip .live-cell').nth(2).waitFor({ timeout: 10_000 });
          expect(await page.locator('#live-strip .live-cell.unknown').count()).toBe(0);
          // Where the session lives, as the backend says.
          await expect(page.locator('#placement').innerText()).resolves.toMatch(
            /lives in Redis \(shared by every replica\)/,
          );
        } else {
          expect(loads.some((l) => l.path === '/login')).toBe(true);
          await page.goto(`${cluster.url}/profile`);
          if (new URL(page.url()).pathname !== '/login') await page.goto(`${cluster.url}/profile`);
          expect(new URL(page.url()).pathname).toBe('/login');
          await expect(page.locator('.notice.warn').innerText()).resolves.toMatch(
            /does not\s+recognise it/,
          );
        }
        await page.screenshot({ path: join(ARTIFACTS, `browser-${profile}.png`), fullPage: true });
      } finally {
        await context.close();
      }
    },
    60_000,
  );
});

describe('browser, profile stateless', () => {
  const cluster = useCluster('stateless');

  it('stays logged in on every replica, and its forms keep working as the cookie is sealed again', async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    try {
      await registerAndLogIn(page, cluster.url);
      const loads = await reloadProfile(page, cluster.url, 6);
      expect(loads.every((l) => l.path === '/profile')).toBe(true);
      expect(new Set(loads.map((l) => l.replica)).size).toBeGreaterThanOrEqual(2);
      await expect(page.locator('#placement').innerText()).resolves.toMatch(
        /lives in your browser \(the only copy: sealed in the cookie/,
      );
      // The form on the page carries a token made for the cookie as it was. The page's own script
      // then changes the display name through the API, which seals the cookie again: the token,
      // bound to the session id inside, still verifies (bound to the raw cookie, it would not).
      const sid = async () =>
        defined(
          (await context.cookies()).find((c) => c.name === 'sid'),
          'the session cookie',
        ).value;
      const before = await sid();
      const patched = await page.evaluate(async () => {
        const res = await fetch('/api/me', {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ displayName: 'Sealed Again' }),
        });
        return res.status;
      });
      expect(patched).toBe(200);
      expect(await sid()).not.toBe(before);
      await page.fill('input[name=displayName]', 'Sealed Twice');
      await page.click('form[action="/profile"] button[type=submit]');
      await expect(page.locator('.notice.ok').innerText()).resolves.toMatch(/Profile saved/);
      await expect(page.locator('input[name=displayName]').inputValue()).resolves.toBe(
        'Sealed Twice',
      );
      // The sessions page says what a server without sessions cannot do, and offers no button for it.
      await page.goto(`${cluster.url}/sessions`);
      await expect(page.locator('.notice.warn').innerText()).resolves.toMatch(
        /keeps no sessions on the server[\s\S]*cannot be listed or logged out/,
      );
      expect(await page.locator('form[action="/sessions/revoke-others"]').count()).toBe(0);
      expect(await page.locator('table.sessions tbody tr').count()).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, 'browser-stateless.png'), fullPage: true });
    } finally {
      await context.close();
    }
  }, 60_000);
});
