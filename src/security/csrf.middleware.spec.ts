import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ForbiddenException, UnsupportedMediaTypeException } from '@nestjs/common';
import express, { type Request, type Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import type { SessionMiddleware } from '../session/session.middleware.js';
import { CsrfMiddleware } from './csrf.middleware.js';
import { defined } from '../common/defined.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  SESSION_COOKIE_NAME: 'sl_sid',
});

interface RequestInit {
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  body?: unknown;
}

/** A real Express request object (so `req.get` and `req.is` behave as in the app), without a socket. */
function request(method: string, url: string, init: RequestInit = {}): Request {
  const headers = Object.fromEntries(
    Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  return Object.assign(Object.create(express.request) as Request, {
    method,
    url,
    originalUrl: url,
    headers,
    cookies: init.cookies ?? {},
    body: init.body,
  });
}

/** A JSON body as a client sends it: the body-parser only sees a body when a length (or chunking) is sent. */
const jsonBody = (extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  'content-length': '2',
  ...extra,
});

/** What SessionMiddleware.identify gives for a store-kept session: the raw (signed-id) cookie. */
const storeIdentity = (c: AppConfig) =>
  ({
    identify: (req: Request) => (req.cookies as Record<string, string>)[c.session.cookieName] ?? '',
  }) as unknown as SessionMiddleware;
const withStoreIdentity = (c: AppConfig) => new CsrfMiddleware(c, storeIdentity(c));

describe('CsrfMiddleware', () => {
  let middleware: CsrfMiddleware;
  let cookiesSet: Array<{ name: string; value: string }>;
  let res: Response;

  beforeEach(() => {
    middleware = new CsrfMiddleware(config, storeIdentity(config));
    cookiesSet = [];
    res = {
      cookie: (name: string, value: string) => {
        cookiesSet.push({ name, value });
        return res;
      },
    } as unknown as Response;
  });

  /** Runs the middleware and resolves to what it passed to next(): undefined means "let through". */
  function run(req: Request): Promise<unknown> {
    return new Promise((resolve) => {
      middleware.use(req, res, (err?: unknown) => {
        resolve(err);
      });
    });
  }

  describe('JSON API', () => {
    it('lets a GET through whatever its headers', async () => {
      await expect(
        run(request('GET', '/api/me', { headers: { 'sec-fetch-site': 'cross-site' } })),
      ).resolves.toBeUndefined();
    });

    it('refuses a cross-site POST (Sec-Fetch-Site: cross-site) with 403', async () => {
      const err = await run(
        request('POST', '/api/auth/logout', {
          headers: jsonBody({ 'sec-fetch-site': 'cross-site' }),
        }),
      );

      expect(err).toBeInstanceOf(ForbiddenException);
      expect((err as ForbiddenException).getStatus()).toBe(403);
      expect((err as ForbiddenException).getResponse()).toMatchObject({
        fields: { 'sec-fetch-site': [expect.any(String)] },
      });
    });

    it('lets a body-less POST through that says it is JSON (curl -X POST -H content-type:json)', async () => {
      const req = request('POST', '/api/auth/logout', {
        headers: { 'content-type': 'application/json' },
      });
      await expect(run(req)).resolves.toBeUndefined();
    });

    it('refuses a same-site (other subdomain) POST too', async () => {
      const err = await run(
        request('POST', '/api/me/password', {
          headers: jsonBody({ 'sec-fetch-site': 'same-site' }),
        }),
      );

      expect(err).toBeInstanceOf(ForbiddenException);
    });

    it('refuses a POST whose body is not JSON (text/plain, what a cross-site form can send) with 415', async () => {
      const err = await run(
        request('POST', '/api/auth/login', {
          headers: { 'content-type': 'text/plain', 'content-length': '20' },
        }),
      );

      expect(err).toBeInstanceOf(UnsupportedMediaTypeException);
      expect((err as UnsupportedMediaTypeException).getStatus()).toBe(415);
      expect((err as UnsupportedMediaTypeException).getResponse()).toMatchObject({
        fields: { 'content-type': [expect.any(String)] },
      });
    });

    it('refuses a url-encoded form body on the API with 415', async () => {
      const err = await run(
        request('PATCH', '/api/me', {
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '9' },
        }),
      );

      expect(err).toBeInstanceOf(UnsupportedMediaTypeException);
    });

    it('lets a curl-like POST through: JSON body, no Sec-Fetch-Site', async () => {
      await expect(
        run(request('POST', '/api/auth/login', { headers: jsonBody() })),
      ).resolves.toBeUndefined();
    });

    it('lets a body-less POST with no content type through (curl -X POST .../logout)', async () => {
      await expect(run(request('POST', '/api/auth/logout'))).resolves.toBeUndefined();
    });

    it('lets a same-origin browser POST through, with a charset on the content type', async () => {
      const headers = jsonBody({
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/json; charset=utf-8',
      });

      await expect(
        run(request('DELETE', '/api/sessions/abc', { headers })),
      ).resolves.toBeUndefined();
    });

    it('lets a user-initiated request (Sec-Fetch-Site: none) through', async () => {
      await expect(
        run(
          request('POST', '/api/auth/login', { headers: jsonBody({ 'sec-fetch-site': 'none' }) }),
        ),
      ).resolves.toBeUndefined();
    });
  });

  describe('HTML forms', () => {
    it('lets a GET through and gives the page a way to make a token', async () => {
      const req = request('GET', '/login');

      await expect(run(req)).resolves.toBeUndefined();
      expect(typeof req.csrfToken).toBe('function');
    });

    it('refuses a form POST without a token (403), naming the _csrf field', async () => {
      const err = await run(request('POST', '/login', { body: { username: 'a', password: 'b' } }));

      expect(err).toBeInstanceOf(ForbiddenException);
      expect((err as ForbiddenException).getResponse()).toMatchObject({
        fields: { _csrf: [expect.any(String)] },
      });
    });

    it('accepts a form POST with the token from the page and its cookie, bound to the session cookie', async () => {
      const page = request('GET', '/profile', { cookies: { sl_sid: 's:session-1.sig' } });
      await run(page);
      const token = defined(page.csrfToken, 'the csrfToken() the middleware set')();
      const csrfCookie = cookiesSet.find((c) => c.name === 'csrf');
      expect(csrfCookie?.value).toBe(token);

      const post = (sid: string, sent: string) =>
        run(
          request('POST', '/profile', {
            cookies: { sl_sid: sid, csrf: token },
            body: { _csrf: sent, bio: 'x' },
          }),
        );

      await expect(post('s:session-1.sig', token)).resolves.toBeUndefined();
      // Another session (or a token lifted from another session) does not pass.
      await expect(post('s:session-2.sig', token)).resolves.toMatchObject({ status: 403 });
      // A token that does not match its cookie does not pass.
      await expect(post('s:session-1.sig', `${token}x`)).resolves.toMatchObject({ status: 403 });
    });

    it('does not apply the API rules to pages: a form POST is never refused for its content type', async () => {
      const err = await run(
        request('POST', '/login', {
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '3' },
        }),
      );

      // Refused by the token check (403), not as an unsupported media type (415).
      expect(err).not.toBeInstanceOf(UnsupportedMediaTypeException);
      expect(err).toMatchObject({ status: 403 });
    });
  });

  it('uses the configured session secrets (rotation: an older secret still verifies)', async () => {
    const oldSecret = 'o'.repeat(32);
    const before = withStoreIdentity(
      AppConfig.fromEnv({ ...configEnv(), SESSION_SECRET: oldSecret }),
    );
    const after = withStoreIdentity(
      AppConfig.fromEnv({ ...configEnv(), SESSION_SECRET: `${'n'.repeat(32)},${oldSecret}` }),
    );
    const page = request('GET', '/profile', { cookies: { sl_sid: 'sid-1' } });
    before.use(page, res, jest.fn());
    const token = defined(page.csrfToken, 'the csrfToken() the middleware set')();

    const verdict = await new Promise<unknown>((resolve) => {
      after.use(
        request('POST', '/profile', {
          cookies: { sl_sid: 'sid-1', csrf: token },
          body: { _csrf: token },
        }),
        res,
        (err?: unknown) => {
          resolve(err);
        },
      );
    });

    expect(verdict).toBeUndefined();
  });
});

function configEnv(): Record<string, string> {
  return { DATABASE_URL: 'postgres://app@localhost/app', SESSION_COOKIE_NAME: 'sl_sid' };
}
