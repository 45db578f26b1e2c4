/**
 * Hostile input, through nginx to all three replicas (redis profile): every case gets a 4xx,
 * never a 5xx; afterwards no replica has crashed and the service still works.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HttpClient, RequestOptions } from './support/http-client.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { PASSWORD, login, register, uniqueName } from './support/steps.js';

let cluster: TestCluster;
let victim: string; // an existing account, for case-variant and look-alike usernames
let signedCookie: string; // a real session cookie, to forge variants of

beforeAll(async () => {
  cluster = await startTestCluster('redis');
  victim = uniqueName('victim');
  const c = cluster.client();
  await register(c, victim);
  signedCookie = c.cookie('sid')!;
}, 60_000);
afterAll(async () => {
  await cluster?.teardown();
}, 60_000);

const JSON_TYPE = { 'content-type': 'application/json' };
interface Case {
  name: string;
  method?: string;
  path: string;
  options?: RequestOptions | (() => RequestOptions);
  /** Each case is sent without a session unless it says otherwise. */
  cookie?: () => string;
}

const login_ = (body: unknown): Partial<Case> => ({
  method: 'POST',
  path: '/api/auth/login',
  options: { json: body },
});
const register_ = (body: unknown): Partial<Case> => ({
  method: 'POST',
  path: '/api/auth/register',
  options: { json: body },
});
const rawJson = (
  path: string,
  raw: string | Buffer,
  headers: Record<string, string> = JSON_TYPE,
): Partial<Case> => ({
  method: 'POST',
  path,
  options: { raw, headers },
});
const withCookie = (cookie: () => string): Partial<Case> => ({
  method: 'GET',
  path: '/api/me',
  cookie,
});
const c = (name: string, rest: Partial<Case>): Case => ({ name, path: '/', ...rest });

const corpus: Case[] = [
  // Malformed JSON
  c('truncated JSON', rawJson('/api/auth/login', '{"username":"a",')),
  c('trailing comma', rawJson('/api/auth/login', '{"username":"a","password":"b",}')),
  c('single quotes', rawJson('/api/auth/login', "{'username':'a'}")),
  c('NaN literal', rawJson('/api/auth/login', '{"username":NaN}')),
  c('bare word', rawJson('/api/auth/login', 'undefined')),
  c('binary garbage', rawJson('/api/auth/login', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]))),
  c('JSON null body', rawJson('/api/auth/login', 'null')),
  c('JSON string body', rawJson('/api/auth/login', '"username"')),
  c('JSON number body', rawJson('/api/auth/login', '42')),
  c('JSON array body', rawJson('/api/auth/login', '[{"username":"a","password":"b"}]')),
  c('empty body with JSON type', rawJson('/api/auth/register', '')),
  c(
    'deeply nested JSON',
    rawJson('/api/auth/login', '{"username":' + '['.repeat(2000) + ']'.repeat(2000) + '}'),
  ),
  c(
    'UTF-16 charset',
    rawJson('/api/auth/login', '{"a":1}', { 'content-type': 'application/json; charset=utf-16' }),
  ),
  c(
    'gzip body it is not',
    rawJson('/api/auth/login', '{"a":1}', { ...JSON_TYPE, 'content-encoding': 'gzip' }),
  ),
  // Wrongly typed JSON
  c('username is a number', login_({ username: 42, password: 'x' })),
  c('username is an array', login_({ username: ['a'], password: 'x' })),
  c('username is an object', login_({ username: { $ne: null }, password: 'x' })),
  c('username is null', login_({ username: null, password: 'x' })),
  c('password is a boolean', login_({ username: 'a', password: true })),
  c(
    'register: displayName is an object',
    register_({ username: 'okname', password: PASSWORD, displayName: { a: 1 } }),
  ),
  c('register: password is a number', register_({ username: 'okname', password: 1234567890123 })),
  c(
    'register: unknown field',
    register_({ username: 'okname', password: PASSWORD, isAdmin: true }),
  ),
  c(
    'prototype pollution attempt',
    rawJson(
      '/api/auth/register',
      `{"username":"okname","password":"${PASSWORD}","__proto__":{"isAdmin":true}}`,
    ),
  ),
  c(
    'constructor pollution attempt',
    register_({ username: 'okname', password: PASSWORD, constructor: { prototype: { x: 1 } } }),
  ),
  // Oversized
  c(
    'body over the limit',
    register_({ username: 'okname', password: PASSWORD, displayName: 'x'.repeat(20_000) }),
  ),
  c('body far over nginx limit', rawJson('/api/auth/login', 'x'.repeat(200_000))),
  c('username of 10k characters', login_({ username: 'u'.repeat(10_000), password: 'x' })),
  c('password of 129 characters', register_({ username: 'okname', password: 'p'.repeat(129) })),
  c(
    'displayName of 65 characters',
    register_({ username: 'okname', password: PASSWORD, displayName: 'd'.repeat(65) }),
  ),
  c('very long URL', { method: 'GET', path: '/api/whoami?' + 'q'.repeat(20_000) }),
  c('huge header', {
    method: 'GET',
    path: '/api/me',
    options: { headers: { 'x-big': 'h'.repeat(20_000) } },
  }),
  // Control characters and null bytes
  c('null byte in username', register_({ username: 'bad\u0000name', password: PASSWORD })),
  c(
    'null byte in displayName',
    register_({ username: 'okname', password: PASSWORD, displayName: 'a\u0000b' }),
  ),
  c(
    'bell in displayName',
    register_({ username: 'okname', password: PASSWORD, displayName: 'ding\u0007' }),
  ),
  c(
    'right-to-left override in displayName',
    register_({ username: 'okname', password: PASSWORD, displayName: 'abc\u202Egpj.exe' }),
  ),
  c('newline in username', register_({ username: 'line\nbreak', password: PASSWORD })),
  c('null byte in the path', { method: 'GET', path: '/api/me%00' }),
  c('encoded traversal in static path', { method: 'GET', path: '/static/..%2f..%2fpackage.json' }),
  c('traversal in static path', { method: 'GET', path: '/static/../../.env.example' }),
  // Look-alikes and case variants of an existing username
  c('same username in capitals', {
    method: 'POST',
    path: '/api/auth/register',
    options: () => ({ json: { username: victim.toUpperCase(), password: PASSWORD } }),
  }),
  c('Cyrillic look-alike username', register_({ username: 'vісtim', password: PASSWORD })),
  c('fullwidth username', register_({ username: 'ｖｉｃｔｉｍ', password: PASSWORD })),
  c('zero-width joiner in username', register_({ username: 'vic\u200Dtim', password: PASSWORD })),
  c('login with Turkish dotted I', login_({ username: 'İNVALİD', password: PASSWORD })),
  c('login with a look-alike of an existing user', {
    method: 'POST',
    path: '/api/auth/login',
    options: () => ({ json: { username: victim.replace('i', 'і'), password: PASSWORD } }),
  }),
  // SQL and template metacharacters where they do not belong
  c('SQL in login username', login_({ username: "' OR '1'='1' --", password: "' OR '1'='1" })),
  c(
    'SQL in register username',
    register_({ username: "x'; DROP TABLE users; --", password: PASSWORD }),
  ),
  c('SQL comment in username', login_({ username: 'admin/*', password: 'x' })),
  c(
    'Eta template in username',
    register_({ username: '<%= process.exit() %>', password: PASSWORD }),
  ),
  c('Handlebars template in login', login_({ username: '{{7*7}}', password: 'x' })),
  c('JS template literal in login', login_({ username: '${process.exit()}', password: 'x' })),
  c('HTML in username', register_({ username: '<script>alert(1)</script>', password: PASSWORD })),
  // Session cookies
  c(
    'unsigned session cookie',
    withCookie(() => 'sid=abcdef'),
  ),
  c(
    'badly signed session cookie',
    withCookie(
      () =>
        `sid=${signedCookie.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')}`,
    ),
  ),
  c(
    'signature of another value',
    withCookie(() => `sid=${signedCookie.replace(/^s%3A./, 's%3AX')}`),
  ),
  c(
    'overlong session cookie',
    withCookie(() => `sid=s%3A${'a'.repeat(3500)}.sig`),
  ),
  c(
    'duplicated session cookies, both bad',
    withCookie(() => 'sid=aaa; sid=bbb'),
  ),
  c(
    'malformed percent-encoding in cookie',
    withCookie(() => 'sid=%E0%A4%A'),
  ),
  c(
    'cookie without a value',
    withCookie(() => 'sid='),
  ),
  c(
    'thousand cookies',
    withCookie(() => Array.from({ length: 300 }, (_, i) => `c${i}=v`).join('; ')),
  ),
  // Bogus forwarded headers (nginx overwrites them; the app believes only nginx)
  c('forged X-Forwarded-For', {
    method: 'GET',
    path: '/api/me',
    options: { headers: { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' } },
  }),
  c('garbage X-Forwarded-For', {
    method: 'GET',
    path: '/api/me',
    options: { headers: { 'x-forwarded-for': 'not-an-ip;;; <script>, 999.999.1.1' } },
  }),
  c('forged X-Forwarded-Proto', {
    method: 'GET',
    path: '/api/me',
    options: { headers: { 'x-forwarded-proto': 'https' } },
  }),
  c('forged X-Forwarded-Host', {
    method: 'GET',
    path: '/api/me',
    options: { headers: { 'x-forwarded-host': 'evil.example' } },
  }),
  // Wrong media types, methods and routes
  c(
    'form body to the JSON API',
    rawJson('/api/auth/login', 'username=a&password=b', {
      'content-type': 'application/x-www-form-urlencoded',
    }),
  ),
  c(
    'text body to the JSON API',
    rawJson('/api/auth/login', '{"username":"a"}', { 'content-type': 'text/plain' }),
  ),
  c('cross-site API request', {
    method: 'POST',
    path: '/api/auth/logout',
    options: { headers: { 'sec-fetch-site': 'cross-site' } },
  }),
  c('form post without CSRF token', {
    method: 'POST',
    path: '/login',
    options: { form: { username: 'a', password: 'b' } },
  }),
  c('form post with a forged CSRF token', {
    method: 'POST',
    path: '/register',
    options: { form: { _csrf: 'forged.token', username: 'a', password: 'b' } },
  }),
  c('unknown method', { method: 'PROPFIND', path: '/api/me' }),
  c('DELETE a session without one', { method: 'DELETE', path: '/api/sessions/abc' }),
  c('unknown API route', { method: 'GET', path: '/api/admin' }),
];

async function send(client: HttpClient, k: Case) {
  const options = typeof k.options === 'function' ? k.options() : (k.options ?? {});
  if (k.cookie) options.headers = { ...options.headers, cookie: k.cookie() };
  return client.send(k.method ?? 'GET', k.path, options);
}

describe('hostile input', () => {
  it(`the corpus has at least 60 cases (${corpus.length})`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    expect(new Set(corpus.map((k) => k.name)).size).toBe(corpus.length);
  });

  it.each(corpus.map((k) => [k.name, k] as const))('%s: a 4xx, never a 5xx', async (_, k) => {
    const res = await send(cluster.client(), k);
    expect([k.name, res.status >= 400 && res.status < 500]).toEqual([k.name, true]);
  });

  it('afterwards: every replica still runs, is ready, and serves a login', async () => {
    for (const m of cluster.status()) expect([m.name, m.running]).toEqual([m.name, true]);
    for (const r of cluster.replicas) {
      expect((await cluster.direct(r, cluster.client()).get('/health/ready')).status).toBe(200);
    }
    expect((await login(cluster.client(), victim)).status).toBe(200);
  });

  it('metacharacters in free text are stored verbatim and shown escaped', async () => {
    const client = cluster.client();
    await register(client, uniqueName('meta'));
    const bio = `'; DROP TABLE users; -- <script>alert(1)</script> <%= 7*7 %> {{7*7}}`;
    expect((await client.patch('/api/me', { json: { bio } })).body).toMatchObject({ bio });
    const page = await client.get('/profile', { headers: { accept: 'text/html' } });
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toContain('<script>alert(1)</script>');
  });
});
