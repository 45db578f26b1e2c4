import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  ForbiddenException,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import type { Request } from 'express';
import { AppConfig } from '../config/app-config.js';
import { Outages } from './outages.js';
import { AllExceptionsFilter, type ErrorBody } from './all-exceptions.filter.js';
import { validationFailed } from './validation.js';
import { defined } from './defined.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  REPLICA_NAME: 'app-3',
  PROFILE: 'demo',
});

/** What the backends' own classifiers (src/database/outage.ts, the backend records) would claim. */
class StoreDown extends Error {}
class DatabaseDown extends Error {}

/** Records what the filter does to the response. */
class FakeResponse {
  statusCode = 200;
  headersSent = false;
  headers: Record<string, string> = {};
  locals: Record<string, unknown> = {};
  body?: ErrorBody;
  redirected?: { status: number; url: string };
  rendered?: { view: string; data: Record<string, unknown> };
  ended = false;

  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  json(body: ErrorBody): this {
    this.body = body;
    return this;
  }
  setHeader(name: string, value: string): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  redirect(status: number, url: string): void {
    this.redirected = { status, url };
  }
  render(view: string, data: Record<string, unknown>): void {
    this.rendered = { view, data };
  }
  end(): this {
    this.ended = true;
    return this;
  }
}

function request(method: string, originalUrl: string): Request {
  const path = originalUrl.split('?')[0];
  return { method, originalUrl, path, requestId: 'req-123' } as unknown as Request;
}

describe('AllExceptionsFilter', () => {
  const filter = new AllExceptionsFilter(
    config,
    new Outages([
      { backend: 'session store', isOutage: (err) => err instanceof StoreDown },
      { backend: 'database', isOutage: (err) => err instanceof DatabaseDown },
    ]),
  );
  let logged: jest.Mock<(message: unknown) => void>;
  let warned: jest.Mock<(message: unknown) => void>;

  /** Runs the filter for one request and returns the response it shaped. */
  function handle(exception: unknown, req: Request, res = new FakeResponse()): FakeResponse {
    filter.catch(exception, new ExecutionContextHost([req, res, () => undefined]));
    return res;
  }

  beforeEach(() => {
    logged = jest.fn();
    warned = jest.fn();
    jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
      logged(message);
    });
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warned(message);
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  describe('API routes (JSON)', () => {
    it('answers a validation failure with statusCode, error, message and the field errors', () => {
      const res = handle(
        validationFailed({ username: ['username must be longer'] }),
        request('POST', '/api/auth/register'),
      );

      expect(res.statusCode).toBe(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Some fields are not valid.',
        fields: { username: ['username must be longer'] },
        requestId: 'req-123',
      });
    });

    it('answers 401 as JSON (no redirect) when not logged in', () => {
      const res = handle(
        new UnauthorizedException('You are not logged in.'),
        request('GET', '/api/me'),
      );

      expect(res.redirected).toBeUndefined();
      expect(res.statusCode).toBe(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'You are not logged in.',
        requestId: 'req-123',
      });
    });

    it('keeps the message of an exception whose response is an object (e.g. the login throttle)', () => {
      const tooMany = new HttpException(
        { message: 'Too many failed login attempts.', retryAfter: 900 },
        HttpStatus.TOO_MANY_REQUESTS,
      );

      const res = handle(tooMany, request('POST', '/api/auth/login'));

      expect(res.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Too many failed login attempts.',
      });
      expect(res.body).not.toHaveProperty('fields');
    });

    it('keeps the message of an exception whose response is a plain string', () => {
      const res = handle(new HttpException('I am a teapot', 418), request('GET', '/api/me'));

      expect(res.body).toMatchObject({ statusCode: 418, message: 'I am a teapot' });
    });

    it('answers 503 with Retry-After when the session store is down', () => {
      const res = handle(new StoreDown(), request('GET', '/api/whoami'));

      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(defined(res.body, 'the JSON body').message).toContain('session store is unavailable');
      // An outage is expected: a warning, not an error with a stack.
      expect(warned).toHaveBeenCalledTimes(1);
      expect(logged).not.toHaveBeenCalled();
    });

    it('answers 503 naming the database when the database is down', () => {
      const down = Object.assign(new DatabaseDown('timeout exceeded when trying to connect'), {
        code: 'ETIMEDOUT',
      });
      const res = handle(down, request('GET', '/api/me'));

      expect(res.statusCode).toBe(503);
      expect(defined(res.body, 'the JSON body').message).toContain('database is unavailable');
      // The log names the driver's reason, for the operator; the client's body does not.
      const cause = 'ETIMEDOUT: timeout exceeded when trying to connect';
      expect(warned).toHaveBeenCalledWith(expect.objectContaining({ cause }));
      expect(JSON.stringify(res.body)).not.toContain('timeout exceeded');
    });

    it('answers 500 for an unexpected error without revealing its message, and logs the real one', () => {
      const res = handle(
        new Error('password authentication failed for user "app" (pw=hunter2)'),
        request('GET', '/api/me'),
      );

      expect(res.statusCode).toBe(500);
      expect(res.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Something went wrong on our side.',
        requestId: 'req-123',
      });
      expect(JSON.stringify(res.body)).not.toContain('hunter2');
      expect(logged).toHaveBeenCalledWith(
        expect.objectContaining({ msg: expect.stringContaining('hunter2'), requestId: 'req-123' }),
      );
    });

    it('answers 500 (hidden) for a thrown non-Error value', () => {
      const res = handle('just a string', request('GET', '/api/me'));

      expect(res.body).toMatchObject({
        statusCode: 500,
        message: 'Something went wrong on our side.',
      });
    });

    it('does not log client errors as server errors', () => {
      handle(new NotFoundException('No such session'), request('DELETE', '/api/sessions/x'));

      expect(logged).not.toHaveBeenCalled();
      expect(warned).not.toHaveBeenCalled();
    });

    it.each([
      ['entity.parse.failed', 400, 'The request body is not valid JSON.', 'body'],
      ['entity.too.large', 413, 'The request body is too large.', 'body'],
      ['parameters.too.many', 413, 'The form has too many fields.', 'body'],
      ['charset.unsupported', 415, 'The request body has an unsupported charset.', 'content-type'],
      [
        'encoding.unsupported',
        415,
        'The request body has an unsupported encoding.',
        'content-encoding',
      ],
    ])(
      'turns a body-parser error (%s) into a %i with a clear message, naming the bad part',
      (type, status, message, field) => {
        const err = Object.assign(new Error('Unexpected token } in JSON at position 12'), {
          status,
          type,
          expose: true,
        });

        const res = handle(err, request('POST', '/api/auth/login'));

        expect(res.body).toMatchObject({ statusCode: status, message });
        expect(Object.keys(defined(res.body?.fields, 'the field errors'))).toEqual([field]);
      },
    );

    it('looks through the HttpException Nest wraps a middleware error in, to its type and fields', () => {
      const tooLarge = Object.assign(new Error('request entity too large'), {
        status: 413,
        statusCode: 413,
        type: 'entity.too.large',
        expose: true,
      });
      const verifyFailed = Object.assign(validationFailed({ password: ['is not UTF-8'] }), {
        statusCode: 400,
        expose: true,
        type: 'entity.verify.failed',
      });

      const wrapped = (cause: Error) => new HttpException(cause.message, 400, { cause });
      expect(handle(wrapped(tooLarge), request('POST', '/api/me')).body).toMatchObject({
        statusCode: 413,
        fields: { body: [expect.any(String)] },
      });
      expect(handle(wrapped(verifyFailed), request('POST', '/api/me')).body).toMatchObject({
        statusCode: 400,
        fields: { password: ['is not UTF-8'] },
      });
    });

    it.each([
      ['gzip', 'Z_DATA_ERROR', -3, 'incorrect header check'],
      ['br', 'ERR__ERROR_FORMAT_CL_SPACE', -6, 'Decompression failed'],
    ])(
      'names Content-Encoding when a %s body does not inflate (the decoder error through the body parser)',
      (_, code, errno, message) => {
        const err = Object.assign(new Error(message), { status: 400, code, errno, expose: true });

        const res = handle(err, request('POST', '/api/auth/login'));

        expect(res.body).toMatchObject({
          statusCode: 400,
          fields: { 'content-encoding': ['does not match the body'] },
        });
      },
    );

    it('uses the standard reason, not the message, for a middleware 4xx that is not meant to be exposed', () => {
      const err = Object.assign(new Error('internal detail'), { statusCode: 403, expose: false });

      const res = handle(err, request('POST', '/api/auth/login'));

      expect(res.body).toMatchObject({ statusCode: 403, message: 'Forbidden' });
    });

    it('treats a middleware error with a 5xx status as an unexpected error (hidden)', () => {
      const err = Object.assign(new Error('store exploded'), { status: 500, expose: false });

      const res = handle(err, request('GET', '/api/me'));

      expect(res.body).toMatchObject({
        statusCode: 500,
        message: 'Something went wrong on our side.',
      });
    });

    it('answers JSON on health routes too', () => {
      const res = handle(new StoreDown(), request('GET', '/health/ready'));

      expect(res.body).toMatchObject({ statusCode: 503 });
      expect(res.rendered).toBeUndefined();
    });

    it('only ends the response when headers were already sent', () => {
      const res = new FakeResponse();
      res.headersSent = true;

      handle(new Error('late'), request('GET', '/api/me'), res);

      expect(res.ended).toBe(true);
      expect(res.body).toBeUndefined();
      expect(res.statusCode).toBe(200);
    });
  });

  describe('HTML routes', () => {
    it('redirects a 401 on a page to the login page, remembering where the user was going', () => {
      const res = handle(new UnauthorizedException(), request('GET', '/profile/edit?tab=bio'));

      expect(res.redirected).toEqual({
        status: 303,
        url: '/login?next=%2Fprofile%2Fedit%3Ftab%3Dbio',
      });
      expect(res.body).toBeUndefined();
    });

    it('redirects a 401 on a form POST to the login page without a next (a GET could not replay it)', () => {
      const res = handle(new UnauthorizedException(), request('POST', '/profile'));

      expect(res.redirected).toEqual({ status: 303, url: '/login' });
    });

    it("leaves out a next so long that the Location header would outgrow nginx's buffer (a 502)", () => {
      const res = handle(
        new UnauthorizedException(),
        request('GET', `/sessions?${'x'.repeat(5_000)}=a%CC%81`),
      );

      expect(res.redirected).toEqual({ status: 303, url: '/login' });
    });

    it('does not treat /apiary as an API path', () => {
      const res = handle(new UnauthorizedException(), request('GET', '/apiary'));

      expect(res.redirected?.url).toBe('/login?next=%2Fapiary');
    });

    it('renders the error page with the status and the banner for other errors', () => {
      const res = handle(
        new ForbiddenException('The form has expired.'),
        request('POST', '/profile'),
      );

      expect(res.statusCode).toBe(403);
      expect(res.rendered?.view).toBe('error');
      expect(res.rendered?.data).toMatchObject({
        title: 'Forbidden',
        banner: { replica: 'app-3', store: 'memory', profile: 'demo' },
        error: { statusCode: 403, message: 'The form has expired.' },
      });
    });

    it('renders a 503 page with Retry-After when a backend is down', () => {
      const res = handle(new StoreDown(), request('GET', '/profile'));

      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.rendered?.data).toMatchObject({ error: { statusCode: 503 } });
    });
  });
});
