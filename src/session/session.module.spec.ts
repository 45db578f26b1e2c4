import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, Response } from 'express';
import type { PageLocalsMiddleware } from '../common/page-locals.middleware.js';
import type { CsrfMiddleware } from '../security/csrf.middleware.js';
import type { SessionMiddleware } from './session.middleware.js';
import { RequestSessionMiddleware } from './session.module.js';

function step(name: string, seen: string[], fail?: Error) {
  return {
    use: (_req: Request, _res: Response, next: NextFunction) => {
      seen.push(name);
      next(fail);
    },
  };
}

function run(fails: { csrf?: Error; session?: Error } = {}) {
  const seen: string[] = [];
  const mw = new RequestSessionMiddleware(
    step('csrf', seen, fails.csrf) as unknown as CsrfMiddleware,
    step('session', seen, fails.session) as unknown as SessionMiddleware,
    step('pageLocals', seen) as unknown as PageLocalsMiddleware,
  );
  return new Promise<{ seen: string[]; err: unknown }>((resolve) =>
    mw.use({} as Request, {} as Response, (err?: unknown) => resolve({ seen, err })),
  );
}

describe('RequestSessionMiddleware', () => {
  it('runs CSRF, then the session, then the page locals', async () => {
    expect(await run()).toEqual({ seen: ['csrf', 'session', 'pageLocals'], err: undefined });
  });

  it('refuses a forged request before it touches the session store', async () => {
    const forged = new Error('forged');
    expect(await run({ csrf: forged })).toEqual({ seen: ['csrf'], err: forged });
  });

  it('passes a session error on without the page locals', async () => {
    const down = new Error('store down');
    expect(await run({ session: down })).toEqual({ seen: ['csrf', 'session'], err: down });
  });
});
