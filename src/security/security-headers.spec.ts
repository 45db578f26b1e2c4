import { describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { securityHeaders } from './security-headers.js';

function app(production: boolean) {
  const a = express();
  a.use(securityHeaders(production));
  a.get('/api/whoami', (_req, res) => void res.json({ ok: true }));
  a.get('/health/live', (_req, res) => void res.json({ ok: true }));
  a.get('/login', (_req, res) => void res.send('<p>page</p>'));
  a.get('/static/app.css', (_req, res) => void res.type('css').send('p{}'));
  return a;
}

/** Headers every response gets, page or API. */
const ALWAYS = [
  'content-security-policy',
  'cross-origin-resource-policy',
  'referrer-policy',
  'x-content-type-options',
  'x-frame-options',
];
/** Document-only headers: pages get them, JSON responses don't need them. */
const PAGES_ONLY = [
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

describe('securityHeaders', () => {
  it.each(['/api/whoami', '/api/whoami?x=1', '/health/live'])(
    'gives %s the API set, with the strictest CSP',
    async (path) => {
      const res = await request(app(false)).get(path).expect(200);

      for (const h of ALWAYS) expect(res.headers).toHaveProperty(h);
      for (const h of PAGES_ONLY) expect(res.headers).not.toHaveProperty(h);
      expect(res.headers['content-security-policy']).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers).not.toHaveProperty('strict-transport-security');
    },
  );

  it('leaves static files to their own caching', async () => {
    const res = await request(app(false)).get('/static/app.css').expect(200);
    expect(res.headers).not.toHaveProperty('cache-control');
  });

  it("gives pages helmet's full set, as before", async () => {
    const res = await request(app(false)).get('/login').expect(200);

    for (const h of [...ALWAYS, ...PAGES_ONLY]) expect(res.headers).toHaveProperty(h);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers).not.toHaveProperty('strict-transport-security');
  });

  it.each(['/api/whoami', '/login'])('sends HSTS on %s in production only', async (path) => {
    const res = await request(app(true)).get(path).expect(200);

    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });
});
