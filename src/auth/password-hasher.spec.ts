import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import argon2 from 'argon2';
import { AppConfig } from '../config/app-config.js';
import { PasswordHasher } from './password-hasher.js';
import { defined } from '../common/defined.js';

// The smallest memory cost the config allows, so the suite stays fast; the parameters are still real.
const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  ARGON2_MEMORY_KIB: '1024',
});

describe('PasswordHasher', () => {
  let moduleRef: TestingModule;
  let hasher: PasswordHasher;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      providers: [PasswordHasher, { provide: AppConfig, useValue: config }],
    }).compile();
    await moduleRef.init(); // runs onModuleInit, which prepares the dummy hash
    hasher = moduleRef.get(PasswordHasher);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await moduleRef.close();
  });

  it('hashes with argon2id, the configured memory cost, 2 passes and 1 lane, salted', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    const again = await hasher.hash('correct horse battery staple');

    expect(hash.startsWith('$argon2id$')).toBe(true);
    const params = defined(hash.split('$')[3], "the hash's parameters").split(',').sort(); // e.g. "m=1024,p=1,t=2"
    expect(params).toEqual(['m=1024', 'p=1', 't=2']);
    expect(hash).not.toContain('correct horse');
    expect(again).not.toBe(hash); // a fresh salt each time
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hasher.hash('correct horse battery staple');

    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'Correct horse battery staple')).resolves.toBe(false);
  });

  it('returns false (does not throw) for a malformed stored hash', async () => {
    await expect(hasher.verify('not-a-hash', 'whatever')).resolves.toBe(false);
  });

  it.each([null, undefined])(
    'verify(%p) is false, yet awaits a real argon2 verify with the cost of a real hash (no timing oracle)',
    async (missing) => {
      const realVerify = argon2.verify.bind(argon2);
      const verified: string[] = [];
      // Wraps the real function: records which digest was checked, once the check has run to completion.
      const spy = jest
        .spyOn(argon2, 'verify')
        .mockImplementation(async (digest, password, ...rest) => {
          const result = await realVerify(digest, password, ...rest);
          verified.push(digest);
          return result;
        });

      await expect(hasher.verify(missing, 'some password')).resolves.toBe(false);

      expect(spy).toHaveBeenCalledTimes(1);
      // Settled before verify() returned: the time was spent, not skipped.
      expect(verified).toHaveLength(1);
      const params = (h: string) => h.split('$').slice(1, 4).join('$'); // argon2id$v=19$m=..,t=..,p=..
      expect(params(defined(verified[0], 'a verified hash'))).toBe(params(await hasher.hash('x')));
    },
  );

  it('verify(null) is false even if the dummy hash matched the password', async () => {
    jest.spyOn(argon2, 'verify').mockResolvedValue(true);

    await expect(hasher.verify(null, 'the dummy password')).resolves.toBe(false);
  });
});
