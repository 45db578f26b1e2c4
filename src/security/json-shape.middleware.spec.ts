import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { jsonShapeGuard } from './json-shape.middleware.js';

/** What the guard passed to next(): undefined means "let through". */
function run(body: unknown): unknown {
  let passed: unknown = 'not called';
  jsonShapeGuard({ body } as Request, {} as Response, (err?: unknown) => (passed = err));
  return passed;
}

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe('jsonShapeGuard', () => {
  it('lets ordinary bodies, and no body, through', () => {
    expect(run({ username: 'a', password: 'b', tags: [1, { x: 2 }] })).toBeUndefined();
    expect(run(undefined)).toBeUndefined();
  });

  it('refuses nesting past 16 levels, without overflowing on 100 000', () => {
    expect(run(nested(15))).toBeUndefined();
    expect(run(nested(17))).toBeInstanceOf(BadRequestException);
    expect(run(nested(100_000))).toBeInstanceOf(BadRequestException);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses a "%s" key at any depth', (key) => {
    const body = JSON.parse(`{"a":{"b":[{"${key}":{"isAdmin":true}}]}}`) as unknown;
    const err = run(body);
    expect(err).toBeInstanceOf(BadRequestException);
    expect((err as BadRequestException).message).toContain(key);
  });
});
