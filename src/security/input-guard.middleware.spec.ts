import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  bodyGuard,
  printable,
  urlGuard,
  verifyFormBody,
  verifyUtf8Body,
} from './input-guard.middleware.js';

type Guard = (req: Request, res: Response, next: (err?: unknown) => void) => void;

/** The field errors a guard passed to next(), or undefined for "let through". */
function fieldsOf(guard: Guard, req: Partial<Request>): Record<string, string[]> | undefined {
  let passed: unknown = 'not called';
  // The guards never touch the response.
  guard(req as Request, {} as unknown as Response, (err?: unknown) => (passed = err));
  if (passed === undefined) return undefined;
  expect(passed).toBeInstanceOf(BadRequestException);
  return ((passed as BadRequestException).getResponse() as { fields: Record<string, string[]> })
    .fields;
}
const body = (b: unknown) => fieldsOf(bodyGuard, { body: b });
const url = (u: string) => fieldsOf(urlGuard, { url: u });

/** What a verify hook threw, as field errors (undefined: it let the bytes through). */
function verified(
  verify: typeof verifyUtf8Body,
  bytes: Buffer,
  encoding = 'utf-8',
): Record<string, string[]> | undefined {
  try {
    verify({} as never, {}, bytes, encoding);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return ((err as BadRequestException).getResponse() as { fields: Record<string, string[]> })
      .fields;
  }
}

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe('bodyGuard', () => {
  it('lets ordinary bodies, and no body, through', () => {
    expect(body({ username: 'a', password: 'b', tags: [1, { x: 2 }] })).toBeUndefined();
    expect(body(undefined)).toBeUndefined();
  });

  it('lets any printable text through: other scripts, emoji, combining marks, tabs (the DTOs judge those)', () => {
    const password = 'пароль 密码 🙂👩‍👩‍👧 e\u0301 \t \u202e \uFEFF';
    expect(body({ password, bio: 'line one\nline two' })).toBeUndefined();
  });

  it('refuses nesting past 16 levels, naming the top-level field, without overflowing on 100 000', () => {
    expect(body(nested(15))).toBeUndefined();
    expect(body(nested(17))).toEqual({ a: [expect.stringContaining('nested')] });
    expect(body({ deep: nested(100_000) })).toEqual({ deep: [expect.any(String)] });
    // Named by the key itself, even one with a dot in it (found by the generated suite).
    expect(body({ '.': nested(17) })).toEqual({ '.': [expect.any(String)] });
    expect(body([[nested(17)]])).toEqual({ '0': [expect.any(String)] });
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'refuses a "%s" key at any depth, naming where it is',
    (key) => {
      const parsed = JSON.parse(`{"a":{"b":[{"${key}":{"isAdmin":true}}]}}`) as unknown;
      expect(body(parsed)).toEqual({ [`a.b.0.${key}`]: [expect.stringContaining(key)] });
    },
  );

  it('refuses a NUL byte in any string, naming its field (issue 11: Postgres answered a 500)', () => {
    expect(body({ username: 'bad\u0000name', password: 'x' })).toEqual({
      username: ['must not contain NUL characters'],
    });
    expect(body({ a: [{ b: 'ok' }, { c: '\u0000' }] })).toEqual({ 'a.1.c': [expect.any(String)] });
    expect(body('\u0000')).toEqual({ body: [expect.any(String)] });
  });

  it('refuses lone surrogates (they would be stored as U+FFFD), but not surrogate pairs', () => {
    expect(body({ password: 'abc\ud800' })).toEqual({
      password: [expect.stringContaining('UTF-8')],
    });
    expect(body({ password: '\ude00\ud83d' })).toEqual({ password: [expect.any(String)] });
    expect(body({ password: '\ud83d\ude00' })).toBeUndefined();
  });

  it('refuses NUL and lone surrogates in keys, naming the key printably', () => {
    expect(body({ 'user\u0000name': 'x' })).toEqual({ 'user\\u0000name': [expect.any(String)] });
    expect(body({ a: { '\udfff': 1 } })).toEqual({ 'a.\\udfff': [expect.any(String)] });
  });
});

describe('printable', () => {
  it('writes NUL and lone surrogates as escapes and an empty name as ""', () => {
    expect(printable('a\u0000b\ud800')).toBe('a\\u0000b\\ud800');
    expect(printable('')).toBe('""');
    expect(printable('名前🙂')).toBe('名前🙂');
  });
});

describe('urlGuard', () => {
  it('lets URLs through that decode to text, encoded or not', () => {
    expect(url('/api/whoami')).toBeUndefined();
    expect(url('/login?next=%2Fprofile%3Fa%3D%C3%A9&x=a+b')).toBeUndefined();
    expect(url('/api/sessions/%F0%9F%99%82')).toBeUndefined();
  });

  it('refuses a path segment with NUL or bytes that are not UTF-8, naming the path', () => {
    expect(url('/api/sessions/ab%00cd')).toEqual({ path: ['must not contain NUL characters'] });
    expect(url('/api/sessions/%FF')).toEqual({ path: [expect.stringContaining('UTF-8')] });
    expect(url('/api/sessions/%ED%A0%80')).toEqual({ path: [expect.any(String)] });
    expect(url('/api/sessions/%E0%A4%A')).toEqual({ path: [expect.any(String)] });
  });

  it('refuses a query value or name with NUL or broken UTF-8, naming it query.<name>', () => {
    expect(url('/login?next=%00')).toEqual({ 'query.next': [expect.any(String)] });
    expect(url('/login?a=1&next=%C3')).toEqual({ 'query.next': [expect.any(String)] });
    expect(url('/login?n%00xt=1')).toEqual({ 'query.n\\u0000xt': [expect.any(String)] });
    expect(url('/login?%FF=1')).toEqual({ 'query.%FF': [expect.any(String)] });
  });
});

describe('verifyUtf8Body (JSON bytes before decoding)', () => {
  const json = (...parts: Array<string | number[]>) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  it('lets valid UTF-8 through, and leaves other charsets to the parser', () => {
    expect(verified(verifyUtf8Body, json('{"password":"пароль 🙂"}'))).toBeUndefined();
    expect(verified(verifyUtf8Body, json([0xff, 0xfe]), 'utf-16le')).toBeUndefined();
  });

  it('names the field whose string holds the broken bytes', () => {
    expect(verified(verifyUtf8Body, json('{"username":"a","password":"ab', [0xff], 'c"}'))).toEqual(
      { password: [expect.stringContaining('UTF-8')] },
    );
    expect(verified(verifyUtf8Body, json('{"a":{"b":"', [0xed, 0xa0, 0x80], '"}}'))).toEqual({
      'a.b': [expect.any(String)],
    });
  });

  it('names the body when the broken bytes are not inside a JSON string', () => {
    expect(verified(verifyUtf8Body, json([0xff, 0xfe, 0x00, 0x7b]))).toEqual({
      body: [expect.any(String)],
    });
  });
});

describe('verifyFormBody (percent-encoded bytes)', () => {
  it('lets a valid form through', () => {
    expect(
      verified(verifyFormBody, Buffer.from('username=ab&password=%C3%A9t%C3%A9')),
    ).toBeUndefined();
  });

  it('names the field whose percent-encoding is not UTF-8, or holds a NUL', () => {
    expect(verified(verifyFormBody, Buffer.from('username=ab&password=%FF'))).toEqual({
      password: [expect.any(String)],
    });
    expect(verified(verifyFormBody, Buffer.from('username=a%00b'))).toEqual({
      username: ['must not contain NUL characters'],
    });
  });
});
