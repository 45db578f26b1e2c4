import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import type { Request } from 'express';
import passport from 'passport';
import { AppConfig } from '../config/app-config.js';
import type { Principal } from '../session/session.types.js';
import { defined } from '../common/defined.js';
import { SessionSerializer } from './session.serializer.js';

const principal: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };
// What a login hands over when it comes straight from the database row.
const fullUser = {
  ...principal,
  bio: 'private bio',
  passwordHash: '$argon2id$secret',
  createdAt: new Date(0),
};

const config = AppConfig.fromEnv({
  DATABASE_URL: 'postgres://app:pw@localhost:5432/app',
  SESSION_SECRET: 'a'.repeat(32),
  REPLICA_NAME: 'app-2',
});

async function build(): Promise<SessionSerializer> {
  const moduleRef = await Test.createTestingModule({
    providers: [SessionSerializer, { provide: AppConfig, useValue: config }],
  }).compile();
  return moduleRef.get(SessionSerializer);
}

/** A request at login, as passport hands it over: its session just regenerated, still empty. */
const loginRequest = () =>
  ({
    session: {},
    ip: '10.0.0.7',
    get: (name: string) =>
      name === 'user-agent'
        ? 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'
        : undefined,
  }) as unknown as Request;

describe('SessionSerializer', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('stores only id, username and displayName: no hash or profile data goes into the session', async () => {
    const serializer = await build();
    let stored: Principal | undefined;

    serializer.serializeUser(loginRequest(), fullUser, (err, user) => {
      expect(err).toBeNull();
      stored = user;
    });

    expect(stored).toEqual(principal);
    expect(Object.keys(defined(stored, 'the stored principal')).sort()).toEqual([
      'displayName',
      'id',
      'username',
    ]);
  });

  it('stamps the new session with when and where it began, before passport saves it', async () => {
    const serializer = await build();
    const req = loginRequest();
    const now = Date.UTC(2026, 10, 29, 12, 0, 0);
    jest.spyOn(Date, 'now').mockReturnValue(now);

    serializer.serializeUser(req, fullUser, () => undefined);

    const meta = defined(req.session.meta, "the session's meta");
    expect(meta).toMatchObject({
      ip: '10.0.0.7',
      userAgent: 'Firefox 140 on Linux',
      replica: 'app-2',
    });
    expect(meta.createdAt).toBe(now);
    expect(meta.lastSeenAt).toBe(now);
  });

  it('gives the stored principal back as is, synchronously: no database round trip', async () => {
    const serializer = await build();
    let restored: Principal | undefined;

    serializer.deserializeUser(principal, (err, user) => {
      expect(err).toBeNull();
      restored = user;
    });

    // Assigned before deserializeUser returned, so nothing asynchronous (no query) happened.
    expect(restored).toEqual(principal);
  });

  it('is what passport uses to (de)serialize', async () => {
    await build(); // registers itself with passport

    const stored = await new Promise<object>((resolve, reject) => {
      passport.serializeUser(fullUser, loginRequest(), (err, id) => {
        if (err) reject(err);
        else resolve(id as object);
      });
    });
    const restored = await new Promise<unknown>((resolve, reject) => {
      passport.deserializeUser(stored, (err, user) => {
        if (err) reject(err);
        else resolve(user);
      });
    });

    expect(stored).toEqual(principal);
    expect(restored).toEqual(principal);
  });
});
