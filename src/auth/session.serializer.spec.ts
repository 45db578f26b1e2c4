import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import passport from 'passport';
import type { Principal } from '../session/session.types.js';
import { SessionSerializer } from './session.serializer.js';

const principal: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };
// What a login hands over when it comes straight from the database row.
const fullUser = {
  ...principal,
  bio: 'private bio',
  passwordHash: '$argon2id$secret',
  createdAt: new Date(0),
};

async function build(): Promise<SessionSerializer> {
  const moduleRef = await Test.createTestingModule({ providers: [SessionSerializer] }).compile();
  return moduleRef.get(SessionSerializer);
}

describe('SessionSerializer', () => {
  it('stores only id, username and displayName: no hash or profile data goes into the session', async () => {
    const serializer = await build();
    let stored: Principal | undefined;

    serializer.serializeUser(fullUser, (err, user) => {
      expect(err).toBeNull();
      stored = user;
    });

    expect(stored).toEqual(principal);
    expect(Object.keys(stored!).sort()).toEqual(['displayName', 'id', 'username']);
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

    const stored = await new Promise<object>((resolve, reject) =>
      passport.serializeUser(fullUser, (err: unknown, id?: unknown) =>
        err ? reject(err) : resolve(id as object),
      ),
    );
    const restored = await new Promise<unknown>((resolve, reject) =>
      passport.deserializeUser(stored, (err: unknown, user?: unknown) =>
        err ? reject(err) : resolve(user),
      ),
    );

    expect(stored).toEqual(principal);
    expect(restored).toEqual(principal);
  });
});
