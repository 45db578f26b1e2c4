import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EncryptJWT, type CompactJWEHeaderParameters, type JWTPayload } from 'jose';
import { CookieSeal, sealKey, SessionTooLargeError, type SealedData } from './cookie-seal.js';
import { defined } from '../../common/defined.js';

const OLD = 'o'.repeat(40);
const NEW = 'n'.repeat(40);
const SID = 'a'.repeat(43);
const NOW = Date.UTC(2026, 11, 7, 12);
const HOUR = 3_600_000;

const alice = { id: 'u-1', username: 'alice', displayName: 'Alice' };
const session: SealedData = {
  passport: { user: alice },
  meta: {
    createdAt: NOW,
    lastSeenAt: NOW,
    ip: '203.0.113.7',
    userAgent: 'Chrome 131 on Linux',
    replica: 'app-2',
  },
};

describe('CookieSeal', () => {
  it('opens what it sealed, with its id, data and expiry (whole seconds)', async () => {
    const seal = new CookieSeal([NEW]);
    const value = await seal.seal(SID, session, NOW + HOUR + 999);
    expect(await seal.open(value, NOW)).toEqual({
      sid: SID,
      data: session,
      expiresAt: NOW + HOUR,
    });
    // Nothing of the session is readable in the cookie.
    expect(value).not.toContain('alice');
    const ciphertext = defined(value.split('.')[3], 'the JWE ciphertext');
    expect(Buffer.from(ciphertext, 'base64url').toString('latin1')).not.toContain('alice');
  });

  it('refuses a cookie past its expiry, to the second', async () => {
    const seal = new CookieSeal([NEW]);
    const value = await seal.seal(SID, session, NOW + HOUR);
    expect(await seal.open(value, NOW + HOUR - 1000)).toBeDefined();
    expect(await seal.open(value, NOW + HOUR)).toBeUndefined();
  });

  it('rotation: a new seal opens the old key’s cookies; once retired, the old key opens none', async () => {
    const before = new CookieSeal([OLD]);
    const rotating = new CookieSeal([NEW, OLD]);
    const after = new CookieSeal([NEW]);
    const old = await before.seal(SID, session, NOW + HOUR);
    expect((await rotating.open(old, NOW))?.sid).toBe(SID);
    expect(await after.open(old, NOW)).toBeUndefined();
    // New cookies are sealed with the newest key: they outlive the old key's retirement.
    const fresh = await rotating.seal(SID, session, NOW + HOUR);
    expect((await after.open(fresh, NOW))?.sid).toBe(SID);
    expect(await before.open(fresh, NOW)).toBeUndefined();
  });

  it('a session too large for a cookie is an error naming both sizes, never a cut cookie', async () => {
    const seal = new CookieSeal([NEW], 600);
    const big = {
      ...session,
      passport: { user: { ...alice, displayName: 'x'.repeat(256) } },
    };
    await expect(seal.seal(SID, big, NOW + HOUR)).rejects.toThrow(SessionTooLargeError);
    await expect(seal.seal(SID, big, NOW + HOUR)).rejects.toThrow(/at most 600 bytes/);
    // And a cookie longer than the limit is not even tried.
    const roomy = new CookieSeal([NEW]);
    const long = await roomy.seal(SID, big, NOW + HOUR);
    expect(await roomy.open(long, NOW)).toBeDefined();
    expect(await seal.open(long, NOW)).toBeUndefined();
  });

  describe('hostile cookies: none opens, none throws', () => {
    const seal = new CookieSeal([NEW, OLD]);
    let genuine: string | undefined;
    const sealed = async () => (genuine ??= await seal.seal(SID, session, NOW + HOUR));

    it('arbitrary strings', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 5000 }), async (value) => {
          expect(await seal.open(value, NOW)).toBeUndefined();
        }),
        { numRuns: 300 },
      );
    });

    it('a genuine cookie with any one character changed, any part cut off, or anything appended', async () => {
      const value = await sealed();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc
              .record({ at: fc.nat(value.length - 1), c: fc.constantFrom(...Array.from(alphabet)) })
              .filter(({ at, c }) => value[at] !== c)
              .map(({ at, c }) => value.slice(0, at) + c + value.slice(at + 1)),
            fc.nat(value.length - 1).map((n) => value.slice(0, n)),
            fc.string({ minLength: 1, maxLength: 40 }).map((tail) => value + tail),
          ),
          async (forged) => {
            // The last character of a base64url part may carry bits the decoding throws away:
            // a change there is the same token. Anything else that opens is a forgery.
            const bytes = (t: string) =>
              t
                .split('.')
                .map((part) => Buffer.from(part, 'base64url').toString('hex'))
                .join('.');
            if (await seal.open(forged, NOW)) expect(bytes(forged)).toBe(bytes(value));
          },
        ),
        { numRuns: 400 },
      );
    });

    /** A JWE made with our key but not by seal(): what a bug, or a key holder, could send. */
    const raw = (
      claims: object,
      header: object = { alg: 'dir', enc: 'A256GCM', kid: sealKey(NEW).kid },
    ) =>
      new EncryptJWT(claims as JWTPayload)
        .setProtectedHeader(header as CompactJWEHeaderParameters)
        .encrypt(sealKey(NEW).key);
    const exp = Math.floor((NOW + HOUR) / 1000);

    it('tokens of other kinds: a key we never had, another algorithm, no kid, none, a plain JWT', async () => {
      const stranger = new CookieSeal(['s'.repeat(40)]);
      expect(await seal.open(await stranger.seal(SID, session, NOW + HOUR), NOW)).toBeUndefined();
      // Our own key, but without the kid that names it: refused, not tried against every key.
      expect(
        await seal.open(
          await raw({ sid: SID, s: session, exp }, { alg: 'dir', enc: 'A256GCM' }),
          NOW,
        ),
      ).toBeUndefined();
      expect(await seal.open(await raw({ sid: SID, s: session, exp }), NOW)).toBeDefined();
      const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
      const value = await sealed();
      const [, ...rest] = value.split('.');
      for (const h of [
        { alg: 'none', enc: 'A256GCM' },
        { alg: 'dir', enc: 'A128CBC-HS256', kid: sealKey(NEW).kid },
        { alg: 'dir', enc: 'A256GCM', kid: 'nope' },
      ])
        expect(await seal.open([header(h), ...rest].join('.'), NOW)).toBeUndefined();
      const jwt = `${header({ alg: 'none' })}.${header({ sid: SID, s: session, exp: 9e9 })}.`;
      expect(await seal.open(jwt, NOW)).toBeUndefined();
    });

    it('a genuine seal of something that is not a session: seal() refuses to make one, open() to take one', async () => {
      const odd = [
        { ...session, isAdmin: true },
        { passport: { user: { id: 1, username: 'a', displayName: 'a' } } },
        { meta: { ...session.meta, createdAt: -1 } },
      ];
      for (const data of odd) {
        await expect(seal.seal(SID, data as SealedData, NOW + HOUR)).rejects.toThrow(
          /holds only what open\(\) accepts/,
        );
        expect(await seal.open(await raw({ sid: SID, s: data, exp }), NOW)).toBeUndefined();
      }
      await expect(seal.seal('short', session, NOW + HOUR)).rejects.toThrow(/sid/);
      expect(await seal.open(await raw({ sid: 'short', s: session, exp }), NOW)).toBeUndefined();
      expect(await seal.open(await raw({ sid: SID, s: session }), NOW)).toBeUndefined(); // no exp
    });
  });
});
