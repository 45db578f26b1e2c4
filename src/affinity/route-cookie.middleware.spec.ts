import { describe, expect, it } from '@jest/globals';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { routeCookie, routeOf } from './route-cookie.middleware.js';

const HOUR = 3_600_000;

function app(o: { cacheControl?: string; trustProxy?: boolean } = {}) {
  const a = express();
  if (o.trustProxy) a.set('trust proxy', 'loopback');
  a.use(routeCookie({ cookie: 'route', replica: 'app-2', maxAgeMs: HOUR }));
  a.get('/', (_req, res) => {
    if (o.cacheControl) res.setHeader('Cache-Control', o.cacheControl);
    res.json({ ok: true });
  });
  return a;
}

const setCookies = (res: request.Response) =>
  ([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('route='));

describe('routeCookie', () => {
  it('pins a client without a route to this replica, for as long as a session may live', async () => {
    const res = await request(app()).get('/').expect(200);
    expect(setCookies(res)).toEqual(['route=app-2; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax']);
    expect(res.headers['cache-control']).toBe('private');
  });

  it('re-pins a client whose route names another replica (it was failed over here)', async () => {
    const res = await request(app()).get('/').set('Cookie', 'sid=abc; route=app-1').expect(200);
    expect(setCookies(res)).toEqual([expect.stringMatching(/^route=app-2;/)]);
  });

  it('sets nothing for a client already pinned here', async () => {
    const res = await request(app()).get('/').set('Cookie', 'sid=abc; route=app-2').expect(200);
    expect(setCookies(res)).toEqual([]);
    expect(res.headers['cache-control']).toBeUndefined();
  });

  it('marks the cookie Secure when nginx says the request came over TLS', async () => {
    const res = await request(app({ trustProxy: true }))
      .get('/')
      .set('X-Forwarded-Proto', 'https')
      .expect(200);
    expect(setCookies(res)[0]).toMatch(/; Secure$/);
  });

  it('keeps a stricter Cache-Control the handler sets (no-store on pages)', async () => {
    const res = await request(app({ cacheControl: 'no-store' }))
      .get('/')
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('re-pins for every route value other than exactly its own name, whatever the header holds', async () => {
    // Cookie headers as a client may send them: any printable pairs, some of them "route".
    const name = fc.constantFrom('route', 'ROUTE', 'Route', 'sid', 'other', 'rout');
    const value = fc.oneof(
      fc.constantFrom('app-1', 'app-2', 'app-3', 'APP-2', 'app-2 ', 'app-20', '', 'app_2'),
      fc.string({ unit: fc.constantFrom(...'abcxyz-_.= "%,2'.split('')), maxLength: 12 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 200, maxLength: 4000 }),
    );
    const pairs = fc.array(fc.tuple(name, value), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(pairs, async (cookies) => {
        const sent = cookies.map(([k, v]) => [k, v.replace(/;/g, '')] as const);
        const header = sent.map(([k, v]) => `${k}=${v}`).join('; ');
        const req = request(app()).get('/');
        const res = await (header ? req.set('Cookie', header) : req).expect(200);
        const route = sent.find(([k]) => k.toLowerCase() === 'route');
        const pinnedHere = route?.[1].trim() === 'app-2';
        expect(setCookies(res)).toHaveLength(pinnedHere ? 0 : 1);
      }),
      { numRuns: 150 },
    );
  });
});

describe('routeOf', () => {
  it('reads the first cookie of that name, ignoring the case of the name, as nginx does', () => {
    expect(routeOf('a=1; Route=app-3; route=app-1', 'route')).toBe('app-3');
    expect(routeOf('a=1;route=app-1', 'route')).toBe('app-1');
    expect(routeOf('myroute=app-1', 'route')).toBeUndefined();
    expect(routeOf(undefined, 'route')).toBeUndefined();
  });
});
