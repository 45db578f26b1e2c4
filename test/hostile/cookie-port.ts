import { expect } from '@jest/globals';
import fc from 'fast-check';
import { defined } from '../../src/common/defined.js';
import { CookieSeal, type SealedData } from '../../src/session/sealed/cookie-seal.js';
import type { HttpClient } from '../support/http-client.js';
import type { HostilePort, Outcome } from './harness.js';

/** What a client can put in a sealed-session cookie, one hostile cookie per case. */
export type CookieCase =
  | { kind: 'garbage'; value: string }
  | { kind: 'flipped'; at: number; c: string }
  | { kind: 'truncated'; keep: number }
  | { kind: 'appended'; tail: string }
  | { kind: 'oversized'; bytes: number }
  | { kind: 'expired'; agoMs: number }
  | { kind: 'retired key'; minted: boolean }
  | { kind: 'stranger key'; secret: string }
  | { kind: 'revoked'; i: number }
  | { kind: 'cut off' };

export interface CookieTarget {
  /** A fresh client (no cookies), through nginx. */
  client(): HttpClient;
  cookieName: string;
  /** SESSION_SECRET the replicas run with, and one they no longer accept. */
  secret: string;
  retiredSecret: string;
  /** The victim's live cookie and its session's data: hostile cookies are made from them. */
  genuine: string;
  data: SealedData;
  /** Cookies of sessions that were logged out, and one ended by "log out my other sessions". */
  revoked: string[];
  cutOff: string;
  /** A cookie the app sealed before its secret was dropped from SESSION_SECRET. */
  retired: string;
}

/** The characters of a sealed cookie, one each (all ASCII, so one code unit each). */
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'.split('');
const HOUR = 3_600_000;
const printable = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 400,
});

/** The bytes a JWE's parts decode to: a change to a part's spare trailing bits is the same token. */
const decoded = (t: string) =>
  t
    .split('.')
    .map((part) => Buffer.from(part, 'base64url').toString('hex'))
    .join('.');

/**
 * The session cookie of a `stateless-revocable` cluster as a hostile-input port: forged, truncated,
 * oversized cookies, and genuine-looking ones replayed after their expiry, after their key was
 * retired, after a logout or a cut-off. None may log anyone in, none may get a 5xx.
 */
export class CookiePort implements HostilePort<CookieCase> {
  readonly name = 'session cookie';
  readonly cases: fc.Arbitrary<CookieCase>;

  constructor(private readonly t: CookieTarget) {
    const n = t.genuine.length;
    this.cases = fc.oneof(
      fc.record({ kind: fc.constant('garbage' as const), value: printable }),
      fc
        .record({
          kind: fc.constant('flipped' as const),
          at: fc.nat(n - 1),
          c: fc.constantFrom(...BASE64URL),
        })
        .filter(({ at, c }) => t.genuine[at] !== c),
      fc.record({ kind: fc.constant('truncated' as const), keep: fc.nat(n - 1) }),
      fc.record({
        kind: fc.constant('appended' as const),
        tail: fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 1, maxLength: 60 }),
      }),
      fc.record({
        kind: fc.constant('oversized' as const),
        bytes: fc.integer({ min: 3_900, max: 20_000 }),
      }),
      fc.record({
        kind: fc.constant('expired' as const),
        agoMs: fc.integer({ min: 1000, max: 30 * 24 * HOUR }),
      }),
      fc.record({ kind: fc.constant('retired key' as const), minted: fc.boolean() }),
      fc.record({
        kind: fc.constant('stranger key' as const),
        secret: fc.string({ minLength: 32, maxLength: 64 }),
      }),
      fc.record({ kind: fc.constant('revoked' as const), i: fc.nat(t.revoked.length - 1) }),
      fc.constant({ kind: 'cut off' as const }),
    );
  }

  describe(c: CookieCase): string {
    const json = JSON.stringify(c);
    return json.length > 160 ? `${json.slice(0, 157)}...` : json;
  }

  /** The cookie value a case sends. */
  async value(c: CookieCase): Promise<string> {
    const g = this.t.genuine;
    const sid = 'h'.repeat(43);
    switch (c.kind) {
      case 'garbage':
        return c.value;
      case 'flipped':
        return g.slice(0, c.at) + c.c + g.slice(c.at + 1);
      case 'truncated':
        return g.slice(0, c.keep);
      case 'appended':
        return g + c.tail;
      case 'oversized':
        return (g + 'A'.repeat(c.bytes)).slice(0, c.bytes);
      case 'expired':
        return new CookieSeal([this.t.secret]).seal(sid, this.t.data, Date.now() - c.agoMs);
      case 'retired key':
        // The app's own from before the rotation, or one minted with the old key just now.
        return c.minted
          ? new CookieSeal([this.t.retiredSecret]).seal(sid, this.t.data, Date.now() + HOUR)
          : this.t.retired;
      case 'stranger key':
        return new CookieSeal([c.secret]).seal(sid, this.t.data, Date.now() + HOUR);
      case 'revoked':
        return defined(this.t.revoked[c.i], `revoked cookie ${c.i}`);
      case 'cut off':
        return this.t.cutOff;
    }
  }

  async probe(c: CookieCase): Promise<Outcome> {
    const value = await this.value(c);
    const client = this.t.client();
    client.cookies.set(this.t.cookieName, value);
    const res = await client.get('/api/sessions');
    // Only the genuine token itself may pass: a change to spare bits base64url throws away.
    const same =
      (c.kind === 'flipped' || c.kind === 'appended') && decoded(value) === decoded(this.t.genuine);
    // A cookie too large for nginx's header buffers is refused there (400), before any replica.
    const expected = same ? 200 : c.kind === 'oversized' && res.status === 400 ? 400 : 401;
    expect({ case: c.kind, status: res.status }).toEqual({ case: c.kind, status: expected });
    return { refused: res.status !== 200, label: String(res.status) };
  }
}
