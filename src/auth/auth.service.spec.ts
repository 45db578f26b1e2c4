import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { HttpException, HttpStatus, UnauthorizedException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import type { Principal } from '../session/session.types.js';
import { User } from '../users/user.entity.js';
import { RegisterDto } from '../users/users.dto.js';
import { UsersService } from '../users/users.service.js';
import { AuthService } from './auth.service.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password-hasher.js';
import { defined } from '../common/defined.js';

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app@localhost/app',
  SESSION_SECRET: 's'.repeat(32),
  REPLICA_NAME: 'app-2',
  SESSION_COOKIE_NAME: 'sl_sid',
});

const alice = Object.assign(new User(), {
  id: 'user-alice',
  username: 'alice',
  displayName: 'Alice',
  bio: 'hi',
  passwordHash: '$argon2id$stored-hash',
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

/** A registration as the validation pipe hands it over: a RegisterDto. */
const registration = (fields: Pick<RegisterDto, 'username' | 'password' | 'displayName'>) =>
  Object.assign(new RegisterDto(), fields);

// Typed fakes of exactly the methods AuthService calls.
const fakes = () => ({
  users: {
    findForLogin: jest.fn<UsersService['findForLogin']>(),
    create: jest.fn<UsersService['create']>(),
  },
  hasher: {
    verify: jest.fn<PasswordHasher['verify']>(),
    hash: jest.fn<PasswordHasher['hash']>(),
  },
  throttle: {
    take: jest.fn<LoginThrottle['take']>().mockResolvedValue(undefined),
    succeeded: jest.fn<LoginThrottle['succeeded']>().mockResolvedValue(undefined),
    giveBack: jest.fn<LoginThrottle['giveBack']>().mockResolvedValue(undefined),
  },
});

describe('AuthService', () => {
  let f: ReturnType<typeof fakes>;
  let auth: AuthService;

  beforeEach(async () => {
    f = fakes();
    const moduleRef = await Test.createTestingModule({
      providers: [
        AuthService,
        { provide: AppConfig, useValue: config },
        { provide: UsersService, useValue: f.users },
        { provide: PasswordHasher, useValue: f.hasher },
        { provide: LoginThrottle, useValue: f.throttle },
      ],
    }).compile();
    auth = moduleRef.get(AuthService);
  });

  describe('validateCredentials', () => {
    it('returns the principal (no hash, no profile fields) and clears the failure count on success', async () => {
      f.users.findForLogin.mockResolvedValue(alice);
      f.hasher.verify.mockResolvedValue(true);

      const principal = await auth.validateCredentials('Alice', 'right password', '10.0.0.1');

      expect(principal).toEqual({ id: 'user-alice', username: 'alice', displayName: 'Alice' });
      expect(f.throttle.take).toHaveBeenCalledWith('Alice', '10.0.0.1');
      expect(f.hasher.verify).toHaveBeenCalledWith(alice.passwordHash, 'right password');
      expect(f.throttle.succeeded).toHaveBeenCalledWith('Alice', '10.0.0.1');
    });

    it('answers 401 for a wrong password, having counted the attempt first', async () => {
      f.users.findForLogin.mockResolvedValue(alice);
      f.hasher.verify.mockResolvedValue(false);

      await expect(auth.validateCredentials('alice', 'wrong', '10.0.0.1')).rejects.toThrow(
        UnauthorizedException,
      );

      expect(f.throttle.take).toHaveBeenCalledWith('alice', '10.0.0.1');
      // The slot was taken before the (slow) hash check, not after it.
      const [taken] = f.throttle.take.mock.invocationCallOrder;
      const [verified] = f.hasher.verify.mock.invocationCallOrder;
      expect(taken).toBeLessThan(defined(verified, 'a call to verify'));
      expect(f.throttle.succeeded).not.toHaveBeenCalled();
    });

    it('still runs the hasher for an unknown username (same time as a wrong password) and answers the same 401', async () => {
      f.users.findForLogin.mockResolvedValue(null);
      f.hasher.verify.mockResolvedValue(false);

      const unknown = auth.validateCredentials('nobody', 'whatever', '10.0.0.1');
      await expect(unknown).rejects.toThrow(UnauthorizedException);

      expect(f.hasher.verify).toHaveBeenCalledTimes(1);
      expect(f.hasher.verify).toHaveBeenCalledWith(undefined, 'whatever');
      expect(f.throttle.take).toHaveBeenCalledWith('nobody', '10.0.0.1');

      // Same message as a wrong password: the answer does not reveal which usernames exist.
      f.users.findForLogin.mockResolvedValue(alice);
      const wrong = auth.validateCredentials('alice', 'whatever', '10.0.0.1');
      const [a, b] = await Promise.allSettled([unknown, wrong]);
      const body = (r: PromiseSettledResult<Principal>) =>
        ((r as PromiseRejectedResult).reason as HttpException).getResponse();
      expect(body(a)).toEqual(body(b));
      expect(body(a)).toMatchObject({ statusCode: 401, message: 'Wrong username or password.' });
    });

    it('gives the attempt back when the database fails (a 503 is not a wrong guess)', async () => {
      const down = new Error('connect ECONNREFUSED 127.0.0.1:5432');
      f.users.findForLogin.mockRejectedValue(down);
      await expect(auth.validateCredentials('alice', 'pw', '10.0.0.1')).rejects.toBe(down);
      expect(f.throttle.giveBack).toHaveBeenCalledWith('alice', '10.0.0.1');
      expect(f.hasher.verify).not.toHaveBeenCalled();
    });

    it('lets a throttle refusal (429) through without looking the user up', async () => {
      const tooMany = new HttpException(
        'Too many failed login attempts.',
        HttpStatus.TOO_MANY_REQUESTS,
      );
      f.throttle.take.mockRejectedValue(tooMany);

      await expect(auth.validateCredentials('alice', 'right password', '10.0.0.1')).rejects.toBe(
        tooMany,
      );

      expect(f.users.findForLogin).not.toHaveBeenCalled();
      expect(f.hasher.verify).not.toHaveBeenCalled();
      expect(f.throttle.succeeded).not.toHaveBeenCalled();
    });
  });

  describe('register', () => {
    it('stores the hash (never the password) and returns the principal', async () => {
      f.hasher.hash.mockResolvedValue('$argon2id$new-hash');
      f.users.create.mockImplementation(async (input) =>
        Object.assign(new User(), alice, input, { id: 'user-new' }),
      );

      const principal = await auth.register(
        registration({
          username: 'newbie',
          password: 'long enough password',
          displayName: '  New  ',
        }),
      );

      expect(f.hasher.hash).toHaveBeenCalledWith('long enough password');
      expect(f.users.create).toHaveBeenCalledWith({
        username: 'newbie',
        displayName: 'New',
        passwordHash: '$argon2id$new-hash',
      });
      expect(principal).toEqual({ id: 'user-new', username: 'newbie', displayName: 'New' });
    });

    it('uses the username as display name when none (or only blanks) is given', async () => {
      f.hasher.hash.mockResolvedValue('h');
      f.users.create.mockImplementation(async (input) => Object.assign(new User(), alice, input));

      await auth.register(registration({ username: 'plain', password: 'long enough password' }));
      await auth.register(
        registration({ username: 'blank', password: 'long enough password', displayName: '   ' }),
      );

      expect(f.users.create.mock.calls.map(([input]) => input.displayName)).toEqual([
        'plain',
        'blank',
      ]);
    });
  });

  describe('startSession', () => {
    it('logs the principal in through passport (which regenerates the session)', async () => {
      const logIn = jest.fn((_user: unknown, done: (err?: unknown) => void) => {
        done();
      });
      const req = { logIn } as unknown as Request;
      const principal: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };

      await auth.startSession(req, principal);

      // Who, where and when go into the session in SessionSerializer, before passport saves it.
      expect(logIn).toHaveBeenCalledWith(principal, expect.any(Function));
    });

    it('fails when passport cannot log in (e.g. the store is down)', async () => {
      const storeDown = new Error('store down');
      const req = {
        logIn: (_u: unknown, done: (err?: unknown) => void) => {
          done(storeDown);
        },
      } as unknown as Request;

      await expect(
        auth.startSession(req, { id: '1', username: 'a', displayName: 'A' }),
      ).rejects.toBe(storeDown);
    });
  });

  describe('endSession', () => {
    it('destroys the stored session, drops the user and clears the configured cookie', async () => {
      const destroy = jest.fn((done: (err?: unknown) => void) => {
        done();
      });
      const req = { user: { id: 'user-alice' }, session: { destroy } } as unknown as Request;
      const clearCookie = jest.fn();
      const res = { clearCookie } as unknown as Response;

      await auth.endSession(req, res);

      expect(destroy).toHaveBeenCalledTimes(1);
      expect(req.user).toBeUndefined();
      expect(clearCookie).toHaveBeenCalledWith('sl_sid', { path: '/' });
    });
  });
});
