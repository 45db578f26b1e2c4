import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { compose, whenBodyPresent } from './compose.js';

// compose() only hands the response on.
const res = {} as unknown as Response;

/** Runs a middleware; resolves to what it passed to next() (undefined: let through). */
function run(mw: RequestHandler, req: Partial<Request> = { headers: {} }): Promise<unknown> {
  return new Promise(
    (resolve) =>
      void mw(req as Request, res, ((err?: unknown) => {
        resolve(err);
      }) as NextFunction),
  );
}

describe('compose', () => {
  it('runs the handlers in order, then goes on', async () => {
    const seen: string[] = [];
    const mark =
      (name: string): RequestHandler =>
      (_req, _res, next) => {
        seen.push(name);
        next();
      };

    expect(await run(compose(mark('a'), mark('b'), mark('c')))).toBeUndefined();
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('stops at an error passed on or thrown, and hands it on', async () => {
    const seen: string[] = [];
    const passed = new Error('passed');
    const thrown = new Error('thrown');
    const after: RequestHandler = (_req, _res, next) => {
      seen.push('after');
      next();
    };

    expect(
      await run(
        compose((_q, _s, next) => {
          next(passed);
        }, after),
      ),
    ).toBe(passed);
    expect(
      await run(
        compose(() => {
          throw thrown;
        }, after),
      ),
    ).toBe(thrown);
    expect(seen).toEqual([]);
  });

  it('waits for a handler that calls next() later', async () => {
    const seen: string[] = [];
    const later: RequestHandler = (_req, _res, next) =>
      void setTimeout(() => {
        next();
      }, 5);
    const after: RequestHandler = (_req, _res, next) => {
      seen.push('after');
      next();
    };

    await run(compose(later, after));
    expect(seen).toEqual(['after']);
  });
});

describe('whenBodyPresent', () => {
  const parsed: RequestHandler = (req, _res, next) => {
    (req as Request & { parsed?: boolean }).parsed = true;
    next();
  };

  it.each([
    ['a length', { 'content-length': '12' }, true],
    ['a zero length', { 'content-length': '0' }, true],
    ['chunked', { 'transfer-encoding': 'chunked' }, true],
    ['no length and no chunking', {}, false],
    ['a length that is not a number', { 'content-length': 'x' }, false],
  ])('with %s: runs the handler = %p', async (_what, headers, runs) => {
    const req = { headers } as Partial<Request> & { parsed?: boolean };

    await run(whenBodyPresent(parsed), req);

    expect(req.parsed ?? false).toBe(runs);
  });
});
