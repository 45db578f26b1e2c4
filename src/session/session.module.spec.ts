import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, Response } from 'express';
import type { PageLocalsMiddleware } from '../common/page-locals.middleware.js';
import type { CsrfMiddleware } from '../security/csrf.middleware.js';
import type { SessionMiddleware } from './session.middleware.js';
import type { SessionBackend } from './backends/backend.js';
import { RequestSessionMiddleware, SessionBackendState } from './session.module.js';

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
  return new Promise<{ seen: string[]; err: unknown }>((resolve) => {
    // The steps never look at the request or the response.
    mw.use({} as unknown as Request, {} as unknown as Response, (err?: unknown) => {
      resolve({ seen, err });
    });
  });
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

describe('SessionBackendState', () => {
  const backend = (start?: () => Promise<void>) =>
    ({ ready: async () => undefined, start }) as unknown as SessionBackend;
  const settled = () => new Promise((r) => setImmediate(r));

  it('is started at once for a backend without start()', async () => {
    const state = new SessionBackendState(backend());
    state.onApplicationBootstrap();
    await settled();
    expect(state.status).toBe('started');
  });

  it('is starting until start() resolves, then started', async () => {
    let finish!: () => void;
    const state = new SessionBackendState(backend(() => new Promise<void>((r) => (finish = r))));
    state.onApplicationBootstrap();
    await settled();
    expect(state.status).toBe('starting');
    finish();
    await settled();
    expect(state.status).toBe('started');
  });

  it('is failed, with the reason, when start() rejects', async () => {
    const state = new SessionBackendState(
      backend(async () => Promise.reject(new Error('no peer'))),
    );
    state.onApplicationBootstrap();
    await settled();
    expect(state).toMatchObject({ status: 'failed', error: 'no peer' });
  });
});
