import { describe, expect, it } from '@jest/globals';
import { Cookie, type SessionData } from 'express-session';
import { describeDevice } from './device.js';
import { SessionCodec } from './session-codec.js';

const codec = new SessionCodec({ maxAgeMs: 1_800_000 });
const session = {
  cookie: {
    originalMaxAge: 1_800_000,
    expires: new Date(),
    httpOnly: true,
    path: '/',
    sameSite: 'lax',
    secure: false,
  },
  passport: {
    user: { id: 'c140cc9e-6a77-4a01-9768-4013e50e086c', username: 'alice', displayName: 'Alice' },
  },
  meta: {
    createdAt: 1763769600000,
    lastSeenAt: 1763769660000,
    ip: '127.0.0.1',
    userAgent: 'Firefox 140 on Linux',
    replica: 'app-1',
  },
} as unknown as SessionData;

describe('SessionCodec', () => {
  it('round-trips what a request reads, and rebuilds the cookie from the settings', () => {
    const back = codec.decode(codec.encode(session));
    expect(back.passport).toEqual(session.passport);
    expect(back.meta).toEqual({ createdAt: 1763769600000, lastSeenAt: 1763769660000 });
    expect(back.cookie).toMatchObject({
      originalMaxAge: 1_800_000,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
      secure: false,
    });
  });

  it('is compact: one flat object with one-letter names, no cookie, nothing the index keeps', () => {
    const raw = codec.encode(session);
    expect(Object.keys(JSON.parse(raw) as object).sort()).toEqual(['c', 'd', 'i', 'l', 'n']);
    for (const left of ['cookie', '127.0.0.1', 'Firefox', 'app-1']) expect(raw).not.toContain(left);
    expect(raw.length).toBeLessThanOrEqual(124); // a 128-byte block in Redis, value and header
  });

  it('stores times as whole seconds', () => {
    const late = {
      ...session,
      meta: { ...session.meta, lastSeenAt: 1763769660999 },
    } as SessionData;
    expect(JSON.parse(codec.encode(late))).toMatchObject({ c: 1763769600, l: 1763769660 });
    expect(codec.decode(codec.encode(late)).meta?.lastSeenAt).toBe(1763769660000);
  });

  it('keeps the Secure flag, and fields it does not know under their own names', () => {
    const secure = {
      ...session,
      cookie: Object.assign(new Cookie(), { secure: true }),
      flash: { note: 'hi' },
      meta: { ...session.meta, theme: 'dark' },
    } as SessionData;
    const back = codec.decode(codec.encode(secure)) as SessionData & { flash: unknown };
    expect(back.cookie.secure).toBe(true);
    expect(back.flash).toEqual({ note: 'hi' });
    expect(back.meta).toMatchObject({ createdAt: 1763769600000, theme: 'dark' });
  });
});

describe('describeDevice', () => {
  it.each([
    [
      'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
      'Firefox 140 on Linux',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
      'Chrome 156 on Windows',
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36 Edg/156.0',
      'Edge 156 on Windows',
    ],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
      'Safari 18 on iOS',
    ],
    ['curl/7.88.1', 'curl 7.88.1'],
    ['', 'unknown'],
    [
      'some-bot/1.0 (+https://example.com/a-very-long-bot-information-page)',
      'some-bot/1.0 (+https://example.com/a-ver',
    ],
  ])('%s -> %s', (ua, label) => {
    expect(describeDevice(ua)).toBe(label);
  });
});
