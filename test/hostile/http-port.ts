/**
 * The HTTP port: every route the app declares (see routes.ts), through nginx. A case starts from
 * a valid request for one route (fields that pass the DTO's own rules, a CSRF token for forms, a
 * session for routes behind login) and breaks one thing: a body field, the body as a whole, its
 * content type or encoding, a query or path parameter, the method or the path; sometimes also a
 * forged cookie or header on top.
 *
 * The rules each answer is held to (docs/security.md):
 * - never a 5xx; a 503 only while a backend is really down (asked of the replicas directly);
 * - a value that is certainly invalid (see `mustRefuse`) gets a 4xx, never a 2xx or 3xx;
 * - every 4xx names what was wrong. From the app: 400, 403, 409, 413 and 415 carry `fields`, one
 *   entry per bad part by name: a body field (`username`, `a.b.0` when nested), `query.<name>`,
 *   `path`, a header (`content-type`, `content-encoding`, `sec-fetch-site`), `_csrf`, or `body`
 *   for the body as a whole (not JSON, too large, too many fields). A 400 for a certainly
 *   invalid value names that value's field. 401 (not logged in; for a failed login deliberately
 *   not which field was wrong), 404 (the path is what's wrong) and 429 (nothing is wrong with the
 *   input; `retryAfter` says when to retry) name no field. Pages show the same `fields`, each as
 *   an element with id `<name>-error`. nginx's own refusals (no X-Served-By: 400 for oversized
 *   headers, 413 for bodies over 64 kB, 414 for URLs over its buffers, 405 for TRACE) say it with
 *   the status alone.
 */
import { gzipSync } from 'node:zlib';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import type { HttpClient, HttpResponse } from '../support/http-client.js';
import { isLoggedIn, login, register, uniqueName } from '../support/steps.js';
import type { HostilePort, Outcome } from './harness.js';
import type { Field, Route } from './routes.js';
import {
  extraFieldNames,
  hostileBodies,
  hostileValues,
  type Hostile,
  type Piece,
} from './values.js';

type Member = [key: string, piece: Piece];
type Identity = 'anonymous' | 'user';

interface CookieForgery {
  kind: string;
  /** The Cookie header to send instead of the real one (given the real session cookie, if any). */
  make(real: { sid?: string; csrf?: string }): string;
}

export interface HttpCase {
  route: Route;
  as: Identity;
  /** The class of bad value or request, and where it went: "NUL bytes in body.username". */
  what: string;
  method: string;
  /** Percent-encoded path, without the query. */
  path: string;
  query: Member[];
  body?: { type: 'json' | 'form'; members: Member[] } | { type: 'raw'; bytes: Buffer };
  /** Content type to claim; null sends none. Defaults to what the body is. */
  contentType?: string | null;
  headers: Record<string, string>;
  cookie?: CookieForgery;
  csrf: 'valid' | 'missing' | 'forged';
  /** Certainly invalid: the answer must be a 4xx, and a 400 must name one of these. */
  mustRefuse?: string[];
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** UTF-8, except that a lone surrogate is written as its three bytes (what a buggy client sends). */
function wtf8(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (cp >= 0xd800 && cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else
      out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 63),
        0x80 | ((cp >> 6) & 63),
        0x80 | (cp & 63),
      );
  }
  return out;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const percent = (bytes: number[]) =>
  bytes
    .map((b) =>
      b < 0x80 && UNRESERVED.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : '%' + b.toString(16).toUpperCase().padStart(2, '0'),
    )
    .join('');
const enc = (s: string) => percent(wtf8(s));

function pieceText(p: Piece): string | number[] {
  if ('bytes' in p) return p.bytes;
  if ('raw' in p) return p.raw;
  return typeof p.json === 'string' ? p.json : JSON.stringify(p.json);
}

/** `key=value` pairs as a form or query string carries them: arrays repeat the key. */
function pairs(key: string, p: Piece): string[] {
  if ('json' in p && Array.isArray(p.json))
    return p.json.map((v) => `${enc(key)}=${enc(typeof v === 'string' ? v : JSON.stringify(v))}`);
  if ('json' in p && p.json !== null && typeof p.json === 'object')
    return Object.entries(p.json).map(
      ([k, v]) => `${enc(`${key}[${k}]`)}=${enc(typeof v === 'string' ? v : JSON.stringify(v))}`,
    );
  if ('json' in p && p.json === null) return [enc(key)];
  const text = pieceText(p);
  return [`${enc(key)}=${typeof text === 'string' ? enc(text) : percent(text)}`];
}

const urlencoded = (members: Member[]) => members.flatMap(([k, p]) => pairs(k, p)).join('&');

function jsonBody(members: Member[]): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  members.forEach(([k, p], i) => {
    parts.push(Buffer.from(`${i ? ',' : ''}${JSON.stringify(k)}:`));
    if ('bytes' in p) parts.push(Buffer.from('"'), Buffer.from(p.bytes), Buffer.from('"'));
    else parts.push(Buffer.from('raw' in p ? p.raw : JSON.stringify(p.json)));
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// What must be refused (computed from the case alone, independently of the app's code)

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** JSON nesting the body guard refuses: a container 16 levels below the body object. */
const MAX_VALUE_NESTING = 15;

const badText = (s: string) => s.includes('\u0000') || /\p{Cs}/u.test(s);
const validUtf8 = (bytes: number[]) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
};
/** A field name as the app reports it: NUL and lone surrogates written as \u escapes. */
export const printable = (s: string) =>
  s === ''
    ? '""'
    : s.replace(/\0|\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Paths of the strings and keys in a parsed value that no store may get. */
function badPaths(value: unknown, path: string[]): string[] {
  const found: string[] = [];
  // Iterative: values nest thousands of levels deep.
  const stack: Array<[unknown, string[]]> = [[value, path]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, at] = top;
    if (typeof v === 'string' && badText(v)) found.push(at.join('.'));
    if (typeof v !== 'object' || v === null) continue;
    for (const k of Object.keys(v)) {
      if (badText(k) || FORBIDDEN_KEYS.has(k)) found.push([...at, printable(k)].join('.'));
      else stack.push([(v as Record<string, unknown>)[k], [...at, printable(k)]]);
    }
  }
  return found;
}

function nesting(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, d] = top;
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function pieceValue(p: Piece): unknown {
  if ('json' in p) return p.json;
  if ('raw' in p) {
    try {
      return JSON.parse(p.raw) as unknown;
    } catch {
      return p.raw;
    }
  }
  return undefined;
}

/** Names the body guard must report for one member of a JSON body. */
function guardNames([rawKey, p]: Member): string[] {
  const key = printable(rawKey);
  if (badText(rawKey) || FORBIDDEN_KEYS.has(rawKey)) return [key];
  if ('bytes' in p) return validUtf8(p.bytes) ? [] : [key];
  const value = pieceValue(p);
  const names = badPaths(value, [key]);
  if (nesting(value) > MAX_VALUE_NESTING) names.push(key);
  return names;
}

/**
 * Names that must be reported for a query string or form, judged on the pairs as they go on the
 * wire: a name that is not UTF-8 once decoded is reported as it was sent. (Prototype keys are
 * not certain here: the form parser drops `__proto__` itself, the query parser makes objects
 * without a prototype.)
 */
function wireNames(members: Member[], prefix: string): string[] {
  const names: string[] = [];
  for (const pair of members.flatMap(([k, p]) => pairs(k, p))) {
    const [rawKey = '', rawValue] = pair.split(/=(.*)/s);
    const key = decodeOrNull(rawKey);
    const value = rawValue === undefined ? '' : decodeOrNull(rawValue);
    if (key === null || badText(key) || value === null || badText(value))
      names.push(`${prefix}${key === null ? rawKey : printable(key)}`, `${prefix}${rawKey}`);
  }
  return names;
}

function dtoNames(route: Route, members: Member[]): string[] {
  if (!route.body || !route.json) return [];
  const obj: Record<string, unknown> = {};
  for (const [k, p] of members) {
    // `_csrf` is ignored by some validators and refused by others: not certain either way.
    if (k === '_csrf' || 'bytes' in p) return [];
    obj[k] = pieceValue(p);
  }
  const errors = validateSync(plainToInstance(route.body.dto, obj), {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  return errors.map(fieldName);
}

/** class-validator sets no `property` on an unknown value's error, though its type says so. */
const fieldName = (e: { property?: string }) =>
  e.property === undefined ? 'body' : e.property || '""';

const decodeOrNull = (s: string) => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
};

/** A path segment that does not decode to text a store could take. */
function badSegment(segment: string): boolean {
  try {
    return badText(decodeURIComponent(segment));
  } catch {
    return true; // not UTF-8 once decoded
  }
}

function mustRefuse(c: HttpCase): string[] | undefined {
  const names: string[] = [];
  names.push(...wireNames(c.query, 'query.'));
  if (c.path.split('/').some(badSegment)) names.push('path');
  const body = c.body;
  // Only a body sent as what it is, is certain to reach the checks.
  if (
    body &&
    body.type !== 'raw' &&
    c.contentType === undefined &&
    !c.headers['content-encoding']
  ) {
    const guard =
      body.type === 'form' ? wireNames(body.members, '') : body.members.flatMap(guardNames);
    names.push(...guard);
    if (!guard.length && body.type === 'json') names.push(...dtoNames(c.route, body.members));
  }
  return names.length ? names : undefined;
}

// ---------------------------------------------------------------------------------------------
// Generators

/** ASCII only, so one code unit per character. */
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
const alnum = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...ALNUM), minLength: min, maxLength: max });

/** A value that passes the field's own rules (checked against class-validator in the spec). */
export function validValue(f: Field): fc.Arbitrary<string> {
  const min = Math.max(f.minLength, 3);
  return alnum(min, Math.min(f.maxLength, min + 12));
}

/** A valid public session id (22 base64url characters): well-formed, owned by nobody. */
const publicId = fc.string({
  unit: fc.constantFrom(
    ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''),
  ),
  minLength: 22,
  maxLength: 22,
});

interface Baseline {
  members: Member[];
  query: Member[];
  params: Record<string, string>;
}

function baseline(route: Route): fc.Arbitrary<Baseline> {
  const fields = route.body?.fields ?? [];
  const member = (f: Field) => validValue(f).map((v): Member => [f.name, { json: v }]);
  return fc.record({
    members: fc
      .tuple(
        ...fields.map((f) =>
          f.required
            ? member(f).map((m) => [m])
            : fc.option(member(f), { nil: undefined }).map((m) => (m ? [m] : [])),
        ),
      )
      .map((ms) => ms.flat()),
    query: fc
      .tuple(
        ...route.query.map((q) =>
          fc
            .option(alnum(1, 8), { nil: undefined })
            .map((v) => (v === undefined ? [] : [[q, { json: v }] as Member])),
        ),
      )
      .map((qs) => qs.flat()),
    params: fc
      .tuple(...route.params.map((p) => publicId.map((v) => [p, v] as const)))
      .map((ps) => Object.fromEntries(ps)),
  });
}

/** A change to a valid request; returns what it did ("NUL bytes in body.bio"). */
type Mutation = (c: HttpCase, base: Baseline) => void;

function mutations(route: Route, knownUsername: string): fc.Arbitrary<Mutation> {
  const fields = route.body?.fields ?? [];
  const also = route.body?.also ?? [];
  const bodyNames = [...fields.map((f) => f.name), ...also];
  const all: Array<fc.Arbitrary<Mutation>> = [];
  const setMember = (c: HttpCase, key: string, piece: Piece) => {
    const body = c.body as { members: Member[] };
    const i = body.members.findIndex(([k]) => k === key);
    if (i >= 0) body.members[i] = [key, piece];
    else body.members.push([key, piece]);
  };

  if (bodyNames.length) {
    // A hostile value in one field (weighted: this is where most of the bugs live).
    all.push(
      fc.constantFrom(...bodyNames).chain((name) =>
        hostileValues({ field: fields.find((f) => f.name === name), knownUsername }).map(
          (v: Hostile): Mutation =>
            (c) => {
              c.what = `${v.kind} in body.${name}`;
              setMember(c, name, v.piece);
            },
        ),
      ),
    );
    all.push(
      fc.constantFrom(...bodyNames).map((name): Mutation => (c) => {
        c.what = `missing body.${name}`;
        const body = c.body as { members: Member[] };
        body.members = body.members.filter(([k]) => k !== name);
      }),
      fc
        .tuple(fc.constantFrom(...bodyNames), hostileValues({ knownUsername }))
        .map(([name, v]): Mutation => (c, base) => {
          c.what = `duplicated body.${name} (${v.kind})`;
          const body = c.body as { members: Member[] };
          const good = base.members.find(([k]) => k === name) ?? [name, { json: 'x' }];
          body.members.push(good, [name, v.piece]);
        }),
    );
  }
  all.push(
    fc
      .tuple(extraFieldNames, hostileValues({ knownUsername }))
      .map(([name, v]): Mutation => (c) => {
        c.what = `extra body field "${printable(name).slice(0, 20)}" (${v.kind})`;
        c.body ??= { type: route.json ? 'json' : 'form', members: [] };
        (c.body as { members: Member[] }).members.push([name, v.piece]);
      }),
    hostileBodies.map(({ kind, body }): Mutation => (c) => {
      c.what = `${kind} as the body`;
      c.body = { type: 'raw', bytes: body };
      c.contentType = route.json ? 'application/json' : 'application/x-www-form-urlencoded';
    }),
    contentLies(route),
  );
  if (route.query.length)
    all.push(
      fc
        .tuple(fc.constantFrom(...route.query), hostileValues({ knownUsername }))
        .map(([name, v]): Mutation => (c) => {
          c.what = `${v.kind} in query.${name}`;
          c.query = [...c.query.filter(([k]) => k !== name), [name, v.piece]];
        }),
    );
  all.push(
    fc
      .tuple(extraFieldNames, hostileValues({ knownUsername }))
      .map(([name, v]): Mutation => (c) => {
        c.what = `undeclared query "${printable(name).slice(0, 20)}" (${v.kind})`;
        c.query.push([name, v.piece]);
      }),
  );
  if (route.params.length)
    all.push(
      fc
        .tuple(fc.constantFrom(...route.params), hostileValues({ knownUsername }))
        .map(([name, v]): Mutation => (c, base) => {
          c.what = `${v.kind} in path :${name}`;
          const text = pieceText(v.piece);
          c.path = pathOf(route, {
            ...base.params,
            [name]: typeof text === 'string' ? enc(text) : percent(text),
          });
        }),
    );
  all.push(requestLies(route));
  return fc.oneof(
    ...all.map((arbitrary, i) => ({ arbitrary, weight: bodyNames.length && i === 0 ? 6 : 1 })),
  );
}

const pathOf = (route: Route, encodedParams: Record<string, string>) =>
  route.path.replace(/:(\w+)/g, (_, name: string) => encodedParams[name] ?? 'x');

/** Content types and encodings that do not match the body. */
function contentLies(route: Route): fc.Arbitrary<Mutation> {
  const types = fc.constantFrom<string | null>(
    null,
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json',
    'multipart/form-data; boundary=xyz',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/json; charset=x-unknown',
    'APPLICATION/JSON',
    'application/merge-patch+json',
    'application/jsonx',
    'application/json, text/html',
    'application/x-www-form-urlencoded; charset=utf-7',
    ';;;',
  );
  const encodings = fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip', 'identity');
  return fc.oneof(
    types.map((type): Mutation => (c) => {
      c.what = `content type "${String(type)}" that lies`;
      c.body ??= { type: route.json ? 'json' : 'form', members: [] };
      c.contentType = type;
    }),
    encodings.map((encoding): Mutation => (c) => {
      c.what = `content-encoding "${encoding}" that lies`;
      c.body ??= { type: route.json ? 'json' : 'form', members: [] };
      c.headers['content-encoding'] = encoding;
    }),
    fc.constantFrom(200_000, 2_000_000).map((n): Mutation => (c) => {
      // A decompression bomb: a few kB on the wire, megabytes once inflated.
      c.what = `gzip bomb (${n} bytes inflated)`;
      const text = route.json ? `{"username":"${'a'.repeat(n)}"}` : `username=${'a'.repeat(n)}`;
      c.body = { type: 'raw', bytes: gzipSync(text) };
      c.headers['content-encoding'] = 'gzip';
      c.contentType = route.json ? 'application/json' : 'application/x-www-form-urlencoded';
    }),
  );
}

/** The request itself: methods, paths, a missing or forged CSRF token. */
function requestLies(route: Route): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc
      .constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'TRACE')
      .filter((m) => m !== route.method)
      .map((method): Mutation => (c) => {
        c.what = `method ${method}`;
        c.method = method;
      }),
    fc
      .constantFrom(
        (p: string) => `${p === '/' ? '' : p}/extra`,
        (p: string) => p.toUpperCase(),
        (p: string) => `${p}%00`,
        (p: string) => `${p}%FF`,
        // Not a leading "//": the client would read it as a host name.
        (p: string) => p.replace(/\/(?=[^/]*$)/, '//'),
        (p: string) => `${p}/..`,
        (p: string) => `${p};jsessionid=1`,
        () => '/static/..%2f..%2fpackage.json',
        () => '/static/../../.env.example',
        () => '/api/admin',
        () => `/api/${'a'.repeat(9_000)}`,
      )
      .map((f): Mutation => (c) => {
        c.path = f(c.path);
        c.what = `path ${c.path.slice(0, 40)}`;
      }),
    fc.constantFrom<HttpCase['csrf']>('missing', 'forged').map((csrf): Mutation => (c) => {
      c.what = `${csrf} CSRF token`;
      c.csrf = csrf;
    }),
  );
}

/** Forged headers, sent on top of a case's own change. */
const headerForgeries = fc.constantFrom<[string, Record<string, string>]>(
  ['forged X-Forwarded-For', { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' }],
  ['garbage X-Forwarded-For', { 'x-forwarded-for': 'not-an-ip;;; <script>, 999.999.1.1' }],
  ['forged X-Forwarded-Proto', { 'x-forwarded-proto': 'https' }],
  ['forged X-Forwarded-Host', { 'x-forwarded-host': 'evil.example' }],
  ['forged Host', { host: 'evil.example' }],
  ['huge header', { 'x-big': 'h'.repeat(20_000) }],
  ['cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
  ['foreign Origin', { origin: 'https://evil.example' }],
  ['method override', { 'x-http-method-override': 'DELETE' }],
  ['odd Accept', { accept: 'application/xml;q=0.9, */*;q=0.1' }],
  ['Range', { range: 'bytes=0-0,-1' }],
  ['latin-1 bytes in User-Agent', { 'user-agent': 'Mozilla/5.0 \u00ff\u00fe\u00e9' }],
  ['huge User-Agent', { 'user-agent': 'ua'.repeat(3_000) }],
);

/** Forged and broken cookies (the corpus's cases, made from the real cookies at send time). */
const cookieForgeries = fc.constantFrom<CookieForgery>(
  { kind: 'unsigned session cookie', make: () => 'sid=abcdef' },
  {
    kind: 'badly signed session cookie',
    make: ({ sid }) =>
      `sid=${(sid ?? 's%3Aabc.def').replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')}`,
  },
  {
    kind: 'signature of another value',
    make: ({ sid }) => `sid=${(sid ?? 's%3Aabc.def').replace(/^s%3A./, 's%3AX')}`,
  },
  { kind: 'overlong session cookie', make: () => `sid=s%3A${'a'.repeat(3_500)}.sig` },
  { kind: 'duplicated session cookies, both bad', make: () => 'sid=aaa; sid=bbb' },
  { kind: 'bad cookie before the real one', make: ({ sid }) => `sid=aaa; sid=${sid ?? ''}` },
  { kind: 'malformed percent-encoding in cookie', make: () => 'sid=%E0%A4%A' },
  { kind: 'NUL in cookie', make: () => 'sid=s%3A%00abc.def' },
  { kind: 'cookie without a value', make: () => 'sid=' },
  {
    kind: 'three hundred cookies',
    make: () => Array.from({ length: 300 }, (_, i) => `c${i}=v`).join('; '),
  },
  { kind: 'forged CSRF cookie', make: ({ sid }) => `csrf=forged${sid ? `; sid=${sid}` : ''}` },
);

// ---------------------------------------------------------------------------------------------
// The port

interface Jar {
  cookies: Map<string, string>;
  /** The form token that goes with these cookies ('' when no page handed one out). */
  token: string;
}

const NAMES_FIELDS = new Set([400, 403, 409, 413, 415]);
const NAMES_NOTHING = new Set([401, 404, 429]);
const NGINX_REFUSALS = new Set([400, 405, 413, 414]);
/** Routes nginx answers 404 for itself (nginx/templates/default.conf.template). */
const INTERNAL = /^\/internal(\/|$)/i;
/** A request path as nginx matches locations: percent-decoded, runs of slashes merged. */
function asNginxSees(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // not decodable: nginx refuses it itself (400)
  }
  return decoded.replace(/\/{2,}/g, '/');
}
/** As Eta escapes what a page prints. */
const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);

/** Now and then: `weight` times out of `of`. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight: number, of: number) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: of - weight }, { arbitrary, weight });

export interface HttpTarget {
  /** A client through nginx, with its own empty cookie jar. */
  client(): HttpClient;
  /** Throws unless some backend is down (a 503 is allowed only then). */
  assertBackendDown(): Promise<void>;
}

export class HttpPort implements HostilePort<HttpCase> {
  readonly name = 'http';
  readonly cases: fc.Arbitrary<HttpCase>;
  /** How often the strongest checks applied: a value that must be refused, and its field named. */
  readonly checked = { mustRefuse: 0, fieldNamed: 0 };
  private anonymous: Jar = { cookies: new Map(), token: '' };
  private user: Jar = { cookies: new Map(), token: '' };

  private constructor(
    private readonly target: HttpTarget,
    readonly routes: Route[],
    readonly username: string,
    private readonly password: string,
  ) {
    this.cases = fc.oneof(...routes.map((r) => this.casesFor(r)));
  }

  /** Registers the account the suite logs in with, and collects the form tokens. */
  static async create(target: HttpTarget, routes: Route[], password: string): Promise<HttpPort> {
    const username = uniqueName('hostile').replace(/-/g, '_');
    const port = new HttpPort(target, routes, username, password);
    const c = target.client();
    const res = await register(c, username, password);
    if (res.status !== 201) throw new Error(`could not register the fixture user: ${res.status}`);
    port.user = await port.jarOf(c, false);
    port.anonymous = await port.jarOf(target.client(), true);
    return port;
  }

  /** The cookies and form token of a client, from the first page of its kind with a form. */
  private async jarOf(c: HttpClient, anonymous: boolean): Promise<Jar> {
    const pages = this.routes.filter(
      (r) => r.method === 'GET' && !r.json && r.public === anonymous && !r.params.length,
    );
    for (const page of pages) {
      const res = await c.get(page.path, { headers: { accept: 'text/html' } });
      const token = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
      if (token) return { cookies: new Map(c.cookies), token };
    }
    throw new Error(`no ${anonymous ? 'public' : 'logged-in'} page hands out a form token`);
  }

  private casesFor(route: Route): fc.Arbitrary<HttpCase> {
    const identity: fc.Arbitrary<Identity> = route.public
      ? fc.constantFrom('anonymous', 'anonymous', 'user')
      : fc.constantFrom('user', 'user', 'user', 'anonymous');
    return fc
      .record({
        base: baseline(route),
        mutate: mutations(route, this.username),
        as: identity,
        header: sometimes(headerForgeries, 1, 6),
        cookie: sometimes(cookieForgeries, 1, 8),
      })
      .map(({ base, mutate, as, header, cookie }) => {
        // A form always carries its token, even where the handler reads no field.
        const form = !route.json && route.method !== 'GET';
        const c: HttpCase = {
          route,
          as,
          what: '',
          method: route.method,
          path: pathOf(route, base.params),
          query: [...base.query],
          ...(route.body || form
            ? { body: { type: route.json ? 'json' : 'form', members: [...base.members] } }
            : {}),
          headers: {},
          csrf: 'valid',
        };
        mutate(c, base);
        if (header) {
          c.what += ` + ${header[0]}`;
          Object.assign(c.headers, header[1]);
        }
        if (cookie) {
          c.what += ` + ${cookie.kind}`;
          c.cookie = cookie;
        }
        // Forged headers and cookies may be refused first (403, 401): a certain refusal still
        // has to be a refusal, but it need not name the field then.
        const refuse = mustRefuse(c);
        if (refuse) c.mustRefuse = refuse;
        return c;
      });
  }

  describe(c: HttpCase): string {
    const short = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}… (${s.length} chars)` : s);
    const body = c.body
      ? short(JSON.stringify(this.serialize(c, '<token>').toString('utf8')))
      : '-';
    const query = c.query.length ? `?${short(urlencoded(c.query))}` : '';
    return `${c.as} ${c.method} ${short(c.path)}${query} [${c.what}] body ${body}`;
  }

  private serialize(c: HttpCase, token: string): Buffer {
    const body = c.body;
    if (!body) return Buffer.alloc(0);
    if (body.type === 'raw') return body.bytes;
    if (body.type === 'json') return jsonBody(body.members);
    const csrf: Member[] =
      c.csrf === 'valid'
        ? [['_csrf', { json: token }]]
        : c.csrf === 'forged'
          ? [['_csrf', { json: 'forged.token' }]]
          : [];
    return Buffer.from(urlencoded([...csrf, ...body.members]));
  }

  async probe(c: HttpCase): Promise<Outcome> {
    const jar = c.as === 'user' ? this.user : this.anonymous;
    const headers: Record<string, string> = {
      accept: c.route.json ? 'application/json' : 'text/html',
      ...c.headers,
    };
    const cookies = Object.fromEntries(jar.cookies);
    headers.cookie = c.cookie
      ? c.cookie.make(cookies)
      : [...jar.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (!headers.cookie) delete headers.cookie;
    const body = c.body ? this.serialize(c, jar.token) : undefined;
    const type =
      c.contentType !== undefined
        ? c.contentType
        : c.body?.type === 'form'
          ? 'application/x-www-form-urlencoded'
          : c.body
            ? 'application/json'
            : null;
    if (type !== null && body) headers['content-type'] = type;
    // Said explicitly: for GET, DELETE and OPTIONS Node sends a body without a length (and no
    // chunking), which the server then reads as the start of the next request on the connection.
    if (body) headers['content-length'] = String(body.length);
    // A leading "//" would be read as a host name by the client: an encoded slash instead.
    const path = c.path.startsWith('//') ? `/%2F${c.path.slice(2)}` : c.path;
    const url = path + (c.query.length ? `?${urlencoded(c.query)}` : '');

    const res = await this.target.client().send(c.method, url, {
      headers,
      ...(body ? { raw: body } : {}),
      timeoutMs: 10_000,
    });
    return this.judge(c, res);
  }

  private async judge(c: HttpCase, res: HttpResponse): Promise<Outcome> {
    // Typed where it is declared, so that the compiler knows a call to it does not return.
    const fail: (rule: string) => never = (rule) => {
      // Of a page, the part that says what went wrong.
      const text = /<main>([\s\S]*)<\/main>/.exec(res.text)?.[1]?.replace(/\s+/g, ' ') ?? res.text;
      throw new Error(`${rule}: got ${res.status} ${text.slice(0, 600)}`);
    };
    const fromApp = res.headers['x-served-by'] !== undefined;
    // What replicas tell the runner's dashboard: nginx must not forward it, whatever the request.
    if (INTERNAL.test(asNginxSees(c.path))) {
      if (fromApp) fail('an /internal/ route reached through nginx');
      if (res.status !== 404 && !NGINX_REFUSALS.has(res.status))
        fail('nginx refused an /internal/ route with a status that names no part');
      return { refused: true, label: `nginx ${res.status} (internal)` };
    }
    if (res.status >= 500) {
      if (res.status !== 503) fail('a 5xx for client input');
      await this.target.assertBackendDown();
    }
    const location = String(res.headers.location ?? '');
    // A page behind login answers "not logged in" with a redirect to the login page, not a 401.
    const loginRedirect = res.status === 303 && /^\/login(\?|$)/.test(location) && !c.route.public;
    const refused = res.status >= 400 || loginRedirect;
    if (c.mustRefuse && !refused)
      fail(`accepted a value it must refuse (${c.mustRefuse.join(', ')})`);
    if (c.mustRefuse) this.checked.mustRefuse++;
    if (res.status < 400)
      return { refused, label: loginRedirect ? '303 to login' : String(res.status) };

    if (!fromApp) {
      if (!NGINX_REFUSALS.has(res.status)) fail('nginx refused with a status that names no part');
      return { refused, label: `nginx ${res.status}` };
    }
    const json = String(res.headers['content-type'] ?? '').startsWith('application/json');
    if (json) {
      const body = res.body as
        | { statusCode?: unknown; message?: unknown; fields?: unknown; retryAfter?: unknown }
        | undefined;
      if (body?.statusCode !== res.status || typeof body.message !== 'string')
        fail('an error body without statusCode and message');
      const fields = body.fields as Record<string, unknown> | undefined;
      if (NAMES_FIELDS.has(res.status)) {
        const names = Object.keys(fields ?? {});
        if (
          !names.length ||
          names.some((n) => n === '') ||
          Object.values(fields ?? {}).some(
            (v) => !Array.isArray(v) || v.some((m) => typeof m !== 'string'),
          )
        )
          fail('a 4xx that should name the bad field has no (or empty) fields');
        if (res.status === 400 && c.mustRefuse) {
          if (!c.mustRefuse.some((n) => names.includes(n)))
            fail(`a 400 that does not name the bad field (one of ${JSON.stringify(c.mustRefuse)})`);
          this.checked.fieldNamed++;
        }
      } else if (res.status === 429) {
        if (typeof body.retryAfter !== 'number') fail('a 429 without retryAfter');
      } else if (!NAMES_NOTHING.has(res.status)) {
        fail('a 4xx kind with no naming rule (decide one, see http-port.ts)');
      }
    } else {
      if (NAMES_FIELDS.has(res.status)) {
        if (!res.text.includes('class="field-error"')) fail('an error page that names no field');
        if (res.status === 400 && c.mustRefuse) {
          if (!c.mustRefuse.some((n) => res.text.includes(`id="${escapeHtml(n)}-error"`)))
            fail(
              `an error page that does not name the bad field (one of ${JSON.stringify(c.mustRefuse)})`,
            );
          this.checked.fieldNamed++;
        }
      } else if (!NAMES_NOTHING.has(res.status)) {
        fail('a 4xx kind with no naming rule (decide one, see http-port.ts)');
      }
    }
    return { refused, label: String(res.status) };
  }

  /** A case that was accepted may have ended the suite's session (a logout, a new login): log in again. */
  async recover(c: HttpCase): Promise<boolean> {
    if (c.as !== 'user') return false;
    const client = this.target.client();
    for (const [k, v] of this.user.cookies) client.cookies.set(k, v);
    if (await isLoggedIn(client)) return false;
    const res = await login(client, this.username, this.password);
    if (res.status !== 200)
      throw new Error(`could not log the fixture user in again: ${res.status}`);
    this.user = await this.jarOf(client, false);
    return true;
  }
}
