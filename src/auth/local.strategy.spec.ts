import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { UnauthorizedException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Request } from 'express';
import type { Principal } from '../session/session.types.js';
import { AuthService } from './auth.service.js';
import { LocalStrategy } from './local.strategy.js';

const principal: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

type Outcome = { success: unknown } | { error: unknown } | { fail: unknown; status?: number };

/** Runs the strategy the way passport does, and reports which of its outcomes it chose. */
function authenticate(strategy: LocalStrategy, req: Partial<Request>): Promise<Outcome> {
  return new Promise((resolve) => {
    strategy.success = (user: unknown) => {
      resolve({ success: user });
    };
    strategy.error = (err: unknown) => {
      resolve({ error: err });
    };
    strategy.fail = (challenge: unknown, status?: number) => {
      resolve({ fail: challenge, status });
    };
    strategy.authenticate(req as Request);
  });
}

describe('LocalStrategy', () => {
  let validateCredentials: jest.Mock<AuthService['validateCredentials']>;
  let strategy: LocalStrategy;

  beforeEach(async () => {
    validateCredentials = jest.fn<AuthService['validateCredentials']>();
    const moduleRef = await Test.createTestingModule({
      providers: [LocalStrategy, { provide: AuthService, useValue: { validateCredentials } }],
    }).compile();
    strategy = moduleRef.get(LocalStrategy);
  });

  it('is registered under the name "local" (what LocalAuthGuard asks for)', () => {
    expect(strategy.name).toBe('local');
  });

  it("checks the body's username and password with the client's address, and succeeds with the principal", async () => {
    validateCredentials.mockResolvedValue(principal);

    const outcome = await authenticate(strategy, {
      body: { username: 'alice', password: 'pw' },
      ip: '10.0.0.7',
    });

    expect(validateCredentials).toHaveBeenCalledWith('alice', 'pw', '10.0.0.7');
    expect(outcome).toEqual({ success: principal });
  });

  it('passes an empty address when the request has none (the throttle still gets a string)', async () => {
    validateCredentials.mockResolvedValue(principal);

    await authenticate(strategy, { body: { username: 'alice', password: 'pw' } });

    expect(validateCredentials).toHaveBeenCalledWith('alice', 'pw', '');
  });

  it("hands the service's exception (401, 429, 503) to passport as an error, unchanged", async () => {
    const wrong = new UnauthorizedException('Wrong username or password.');
    validateCredentials.mockRejectedValue(wrong);

    const outcome = await authenticate(strategy, {
      body: { username: 'alice', password: 'bad' },
      ip: '10.0.0.7',
    });

    expect(outcome).toEqual({ error: wrong });
  });

  it('does not call the service when a credential is missing', async () => {
    const outcome = await authenticate(strategy, { body: { username: 'alice' }, ip: '10.0.0.7' });

    expect(outcome).toMatchObject({ status: 400 });
    expect(validateCredentials).not.toHaveBeenCalled();
  });
});
