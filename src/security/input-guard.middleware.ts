import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { validationFailed, type FieldErrors } from '../common/validation.js';

/** Deeper than any body this API accepts; deep enough that nothing legitimate comes close. */
const MAX_DEPTH = 16;
/** Keys that only ever appear in a body to attack an object's prototype. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const NUL = 'must not contain NUL characters';
const NOT_UNICODE = 'must be valid UTF-8 text (no lone surrogates, no broken byte sequences)';
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What is wrong with a string that no store or query may get, if anything. Postgres refuses NUL
 * in text (a 500 if it gets that far: issue 11), and a lone surrogate (from a JSON `\ud800`
 * escape, or bytes that are not UTF-8) would be stored as U+FFFD: silently not what was sent.
 * Every other character is the DTOs' business (passwords, for one, may hold any of them).
 */
export function unsafeText(s: string): string | undefined {
  if (s.includes('\u0000')) return NUL;
  if (LONE_SURROGATE.test(s)) return NOT_UNICODE;
  return undefined;
}

/** A field name as reported: NUL and lone surrogates as \u escapes, an empty name as "". */
export function printable(name: string): string {
  if (name === '') return '""';
  return name.replace(/\0|\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The first problem in a parsed body, named by the field's path (`username`, `a.b.0`): nesting
 * deeper than 16 levels (it would overflow the recursive validators after it), a prototype key,
 * or an unsafe string in a value or a key. Iterative, so the check itself cannot overflow.
 */
export function inspectBody(body: unknown): FieldErrors | undefined {
  if (typeof body === 'string') {
    const problem = unsafeText(body);
    return problem ? { body: [problem] } : undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  // Each entry: the node, its depth, its path, and the top-level field it is in.
  const stack: Array<[unknown, number, string, string]> = [[body, 1, '', 'body']];
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    const [node, depth, path, top] = entry;
    if (typeof node === 'string') {
      const problem = unsafeText(node);
      if (problem) return { [path]: [problem] };
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_DEPTH) return { [top]: [`is nested deeper than ${MAX_DEPTH} levels`] };
    for (const key of Object.keys(node)) {
      const at = path ? `${path}.${printable(key)}` : printable(key);
      if (FORBIDDEN_KEYS.has(key)) return { [at]: [`"${key}" is not allowed as a name`] };
      const problem = unsafeText(key);
      if (problem) return { [at]: [`the name ${problem}`] };
      stack.push([(node as Record<string, unknown>)[key], depth + 1, at, path ? top : at]);
    }
  }
  return undefined;
}

/**
 * The first field of a query string or form (`a=1&b=2`) whose percent-encoding does not decode
 * to safe text; `prefix` goes before its name (`query.`).
 */
export function inspectUrlEncoded(text: string, prefix = ''): FieldErrors | undefined {
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const key = decode(rawKey);
    const name = prefix + printable(key ?? rawKey);
    const keyProblem = key === undefined ? NOT_UNICODE : unsafeText(key);
    if (keyProblem) return { [name]: [`the name ${keyProblem}`] };
    if (eq < 0) continue;
    const value = decode(pair.slice(eq + 1));
    const problem = value === undefined ? NOT_UNICODE : unsafeText(value);
    if (problem) return { [name]: [problem] };
  }
  return undefined;
}

function decode(component: string): string | undefined {
  if (!component.includes('%')) return component;
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    return undefined; // percent-encoded bytes that are not UTF-8
  }
}

/**
 * The URL: every path segment and query field must decode to safe text, before any route sees
 * it (a path parameter, `req.query`). A URL without "%" cannot hold either problem (the HTTP
 * parser refuses raw NUL, and raw bytes become Latin-1 characters), which keeps the check off the
 * hot path.
 */
export function urlGuard(req: Request, _res: Response, next: NextFunction): void {
  const url = req.url;
  if (!url.includes('%')) {
    next();
    return;
  }
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  for (const segment of path.split('/')) {
    const decoded = decode(segment);
    const problem = decoded === undefined ? NOT_UNICODE : unsafeText(decoded);
    if (problem) {
      next(validationFailed({ path: [problem] }));
      return;
    }
  }
  const fields = q < 0 ? undefined : inspectUrlEncoded(url.slice(q + 1), 'query.');
  next(fields && validationFailed(fields));
}

/** Runs right after the body parsers: see inspectBody(). */
export function bodyGuard(req: Request, _res: Response, next: NextFunction): void {
  const fields = inspectBody(req.body);
  next(fields && validationFailed(fields));
}

/**
 * The body parsers' `verify` hook: sees the raw bytes before they are decoded, where bytes that
 * are not UTF-8 would silently become U+FFFD. Throws a 400 naming the field that holds them.
 */
export function verifyUtf8Body(
  _req: IncomingMessage,
  _res: unknown,
  buf: Buffer,
  encoding: string,
): void {
  if (encoding !== 'utf-8' || isUtf8(buf)) return;
  throw validationFailed(locateBrokenUtf8(buf) ?? { body: [NOT_UNICODE] });
}

/** The same for a form body, whose bytes arrive percent-encoded (qs would keep `%FF` as is). */
export function verifyFormBody(
  _req: IncomingMessage,
  _res: unknown,
  buf: Buffer,
  encoding: string,
): void {
  if (encoding !== 'utf-8') return;
  const fields = isUtf8(buf) ? inspectUrlEncoded(buf.toString('utf8')) : { body: [NOT_UNICODE] };
  if (fields) throw validationFailed(fields);
}

/** Which field of a JSON body the broken bytes sit in (they become lone surrogates to find them). */
function locateBrokenUtf8(buf: Buffer): FieldErrors | undefined {
  try {
    return inspectBody(JSON.parse(decodeEscaping(buf)));
  } catch {
    return undefined; // not JSON (or a form): the body as a whole
  }
}

/**
 * UTF-8 decoding that keeps each byte it can't decode as a lone surrogate U+DC80–U+DCFF
 * (Python's "surrogateescape"), instead of U+FFFD. Only runs on a body already refused.
 */
function decodeEscaping(buf: Buffer): string {
  let out = '';
  for (let i = 0; i < buf.length;) {
    const b = buf.readUInt8(i);
    const length =
      b < 0x80
        ? 1
        : b >= 0xc2 && b <= 0xdf
          ? 2
          : b >= 0xe0 && b <= 0xef
            ? 3
            : b >= 0xf0 && b <= 0xf4
              ? 4
              : 0;
    const seq = length ? buf.subarray(i, i + length) : undefined;
    if (seq && seq.length === length && isUtf8(seq)) {
      out += seq.toString('utf8');
      i += length;
    } else {
      out += String.fromCharCode(0xdc00 + b);
      i += 1;
    }
  }
  return out;
}
