import { BadRequestException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** Deeper than any body this API accepts; deep enough that nothing legitimate comes close. */
const MAX_DEPTH = 16;
/** Keys that only ever appear in a body to attack an object's prototype. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Runs right after the body parsers. A JSON body nested thousands of levels deep fits in a few
 * kilobytes and would overflow the stack of the recursive validators after it (a 500); a
 * `__proto__` key is harmless to JSON.parse but a classic prototype-pollution probe. Both are
 * refused here with a 400, walking the body iteratively so the check itself cannot overflow.
 */
export function jsonShapeGuard(req: Request, _res: Response, next: NextFunction): void {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return next();
  const stack: Array<[unknown, number]> = [[body, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_DEPTH)
      return next(new BadRequestException('The request body is nested too deeply.'));
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key))
        return next(new BadRequestException(`The request body may not contain "${key}".`));
      stack.push([(node as Record<string, unknown>)[key], depth + 1]);
    }
  }
  next();
}
