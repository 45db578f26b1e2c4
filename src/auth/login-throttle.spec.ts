import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpException, HttpStatus } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '../config/app-config.js';
import { createMemoryBackend } from '../session/backends/memory.backend.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import type { SessionBackend } from '../session/session.types.js';
import { LoginThrottle } from './login-throttle.js';

const MAX = 3;
const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  LOGIN_MAX_ATTEMPTS: String(MAX),
  LOGIN_WINDOW: '600',
});

/** Resolves to the HttpException assertAllowed threw, or undefined when it allowed the attempt. */
async function refusal(
  throttle: LoginThrottle,
  username: string,
  ip: string,
): Promise<HttpException | undefined> {
  try {
    await throttle.assertAllowed(username, ip);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpException);
    return err as HttpException;
  }
}

describe('LoginThrottle (memory backend)', () => {
  let backend: SessionBackend;
  let throttle: LoginThrottle;

  beforeEach(async () => {
    backend = createMemoryBackend({
      idleTimeoutMs: config.session.idleTimeoutMs,
      absoluteTimeoutMs: config.session.absoluteTimeoutMs,
      timeoutMs: config.backendTimeoutMs,
      onError: () => undefined,
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        LoginThrottle,
        { provide: AppConfig, useValue: config },
        { provide: SESSION_BACKEND, useValue: backend },
      ],
    }).compile();
    throttle = moduleRef.get(LoginThrottle);
  });

  afterEach(async () => {
    await backend.close();
  });

  it(`allows ${MAX - 1} failures, and refuses with 429 after ${MAX} for that username`, async () => {
    for (let i = 0; i < MAX - 1; i++) await throttle.recordFailure('alice', '10.0.0.1');
    await expect(throttle.assertAllowed('alice', '10.0.0.1')).resolves.toBeUndefined();

    await throttle.recordFailure('alice', '10.0.0.1');
    const err = await refusal(throttle, 'alice', '10.0.0.1');

    expect(err?.getStatus()).toBe(HttpStatus.TOO_MANY_REQUESTS);
    expect(err?.getResponse()).toMatchObject({
      message: expect.stringContaining('Too many failed login attempts'),
      retryAfter: 600,
    });
  });

  it('keys on the username whatever the case and whichever address the attempts come from', async () => {
    await throttle.recordFailure('Alice', '10.0.0.1');
    await throttle.recordFailure('ALICE', '10.0.0.2');
    await throttle.recordFailure('alice', '10.0.0.3');

    expect((await refusal(throttle, 'aLiCe', '10.0.0.4'))?.getStatus()).toBe(429);
  });

  it('leaves another username from another address alone', async () => {
    for (let i = 0; i < MAX; i++) await throttle.recordFailure('alice', '10.0.0.1');

    await expect(throttle.assertAllowed('bob', '10.0.0.2')).resolves.toBeUndefined();
  });

  it('gives one address 4x the username limit (many users may share a NAT)', async () => {
    // Failures for different usernames, none of which reaches its own limit.
    const usernames = Array.from({ length: MAX * 4 }, (_, i) => `user${i}`);
    for (const name of usernames.slice(0, -1)) await throttle.recordFailure(name, '10.9.9.9');

    await expect(throttle.assertAllowed('fresh', '10.9.9.9')).resolves.toBeUndefined();
    await throttle.recordFailure(usernames.at(-1)!, '10.9.9.9');

    expect((await refusal(throttle, 'fresh', '10.9.9.9'))?.getStatus()).toBe(429);
    // The same fresh username from elsewhere is fine: it is the address that is limited.
    await expect(throttle.assertAllowed('fresh', '10.0.0.1')).resolves.toBeUndefined();
  });

  it('a success clears the username counter (but not the per-address one)', async () => {
    for (let i = 0; i < MAX - 1; i++) await throttle.recordFailure('alice', '10.0.0.1');
    await throttle.recordSuccess('ALICE');
    await throttle.recordFailure('alice', '10.0.0.1');

    await expect(throttle.assertAllowed('alice', '10.0.0.1')).resolves.toBeUndefined();
    await expect(backend.attempts.peek('ip:10.0.0.1')).resolves.toBe(MAX);
  });
});
