import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpException, HttpStatus } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '../config/app-config.js';
import type { SessionBackend } from '../session/backends/backend.js';
import { memoryBackend } from '../session/backends/memory.backend.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import { LoginThrottle } from './login-throttle.js';

const MAX = 3;
const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  LOGIN_MAX_ATTEMPTS: String(MAX),
  LOGIN_WINDOW: '600',
});

/** Resolves to the HttpException take() threw, or undefined when it allowed the attempt. */
async function refusal(
  throttle: LoginThrottle,
  username: string,
  ip: string,
): Promise<HttpException | undefined> {
  try {
    await throttle.take(username, ip);
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
    backend = await memoryBackend.create({
      config: {},
      idleTimeoutMs: config.session.idleTimeoutMs,
      absoluteTimeoutMs: config.session.absoluteTimeoutMs,
      timeoutMs: config.backendTimeoutMs,
      secrets: config.session.secrets,
      replica: 'app-1',
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

  /** A failed attempt: takes a slot and never succeeds. */
  const fail = (username: string, ip: string) => throttle.take(username, ip);

  it(`allows ${MAX} attempts for a username, and refuses the next with 429`, async () => {
    for (let i = 0; i < MAX; i++) await expect(fail('alice', '10.0.0.1')).resolves.toBeUndefined();
    const err = await refusal(throttle, 'alice', '10.0.0.1');
    expect(err?.getStatus()).toBe(HttpStatus.TOO_MANY_REQUESTS);
    expect(err?.getResponse()).toMatchObject({ retryAfter: 600 });
  });

  it('counts usernames case-insensitively, across addresses', async () => {
    await fail('Alice', '10.0.0.1');
    await fail('ALICE', '10.0.0.2');
    await fail('alice', '10.0.0.3');
    expect((await refusal(throttle, 'aLiCe', '10.0.0.4'))?.getStatus()).toBe(429);
  });

  it('a locked username does not lock another username from another address', async () => {
    for (let i = 0; i < MAX; i++) await fail('alice', '10.0.0.1');
    await expect(refusal(throttle, 'bob', '10.0.0.2')).resolves.toBeUndefined();
  });

  it(`limits one address to ${MAX * 4} attempts, whatever the usernames`, async () => {
    for (let i = 0; i < MAX * 4; i++) await fail(`user${i}`, '10.9.9.9');
    expect((await refusal(throttle, 'fresh', '10.9.9.9'))?.getStatus()).toBe(429);
    // Another address is unaffected.
    await expect(refusal(throttle, 'fresh', '10.0.0.1')).resolves.toBeUndefined();
  });

  it('a success resets the username and gives the address its slot back', async () => {
    for (let i = 0; i < MAX - 1; i++) await fail('alice', '10.0.0.1');
    await throttle.take('alice', '10.0.0.1');
    await throttle.succeeded('ALICE', '10.0.0.1');
    for (let i = 0; i < MAX; i++) await expect(fail('alice', '10.0.0.1')).resolves.toBeUndefined();
    // (MAX - 1) failures before, the success's slot given back, MAX failures after.
    expect(await backend.attempts.peek('ip:10.0.0.1')).toBe(MAX - 1 + MAX);
  });

  it('parallel guesses cannot slip past the limit while earlier ones are still being checked', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => throttle.take('alice', '10.0.0.1')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(MAX);
  });
});

describe('LoginThrottle when the store fails half-way', () => {
  it('gives back the count it took when the second counter cannot be reached (no lock-out by a failover)', async () => {
    const counts = new Map<string, number>();
    const down = new Error('the node holding this key is failing over');
    const attempts = {
      hit: async (key: string) => {
        if (key.startsWith('ip:')) throw down;
        const count = (counts.get(key) ?? 0) + 1;
        counts.set(key, count);
        return count;
      },
      release: async (key: string) => void counts.set(key, (counts.get(key) ?? 0) - 1),
      peek: async (key: string) => counts.get(key) ?? 0,
      reset: async (key: string) => void counts.delete(key),
    };
    const throttle = new LoginThrottle(config, { attempts } as unknown as SessionBackend);
    for (let i = 0; i < MAX + 2; i++)
      await expect(throttle.take('alice', '10.0.0.1')).rejects.toBe(down);
    expect(counts.get('user:alice')).toBe(0);
  });
});
