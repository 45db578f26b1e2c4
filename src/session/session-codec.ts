import type { SessionData } from 'express-session';
import { defined } from '../common/defined.js';
import type { Json } from './session-merge.js';

/**
 * How the redis backend stores a session: one flat JSON object with one-letter names, holding
 * only what a request reads — who the user is, when the session began and when it was last seen.
 * Times are whole seconds. About 120 bytes: with Redis's own cost per key (and jemalloc's size
 * classes: a value up to 124 bytes takes a 128-byte block, one over takes 160), a session costs
 * Redis under 300 bytes.
 *
 * Left out:
 * - the cookie: its settings are the app's and its expiry is the key's TTL; only a Secure flag
 *   is kept;
 * - where and on what the session logged in (ip, device, replica): only the session list shows
 *   those, and it reads them from the per-user index (backends/session-index.ts).
 *
 * Fields the table does not know are stored under their own names.
 */
const FIELDS: ReadonlyArray<readonly [path: string, short: string, unit?: 'ms-as-seconds']> = [
  ['passport.user.id', 'i'],
  ['passport.user.username', 'n'],
  ['passport.user.displayName', 'd'],
  ['meta.createdAt', 'c', 'ms-as-seconds'],
  ['meta.lastSeenAt', 'l', 'ms-as-seconds'],
];
/** Kept by the index instead. */
const NOT_STORED = ['meta.ip', 'meta.userAgent', 'meta.replica'];
const SECURE = 's';

type Obj = { [key: string]: Json };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `root` without the value at `path` (nor the parents that leaves empty), and that value. */
function take(root: Obj, path: readonly string[]): [rest: Obj, value: Json | undefined] {
  const [head, ...tail] = path;
  if (head === undefined) return [root, undefined];
  const { [head]: value, ...others } = root;
  if (tail.length === 0) return [others, value];
  if (!isObject(value)) return [root, undefined];
  const [inner, found] = take(value, tail);
  return [Object.keys(inner).length > 0 ? { ...root, [head]: inner } : others, found];
}

function put(root: Obj, path: readonly string[], value: Json): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key];
  }
  node[defined(path.at(-1), "a field's name")] = value;
}

const SPLIT = FIELDS.map(([path, short, unit]) => [path.split('.'), short, unit] as const);
const BY_SHORT = new Map(SPLIT.map(([path, short, unit]) => [short, { path, unit }]));

const toStored = (value: Json, unit: string | undefined): Json =>
  unit && typeof value === 'number' ? Math.floor(value / 1000) : value;
const fromStored = (value: Json, unit: string | undefined): Json =>
  unit && typeof value === 'number' ? value * 1000 : value;

export interface CookieDefaults {
  maxAgeMs: number;
}

export class SessionCodec {
  constructor(private readonly cookie: CookieDefaults) {}

  encode(sess: SessionData): string {
    const { cookie, ...fields } = JSON.parse(JSON.stringify(sess)) as Obj;
    const secure = isObject(cookie) && cookie.secure === true;
    let rest = fields;
    const out: Obj = {};
    for (const [path, short, unit] of SPLIT) {
      const [left, value] = take(rest, path);
      rest = left;
      if (value !== undefined) out[short] = toStored(value, unit);
    }
    for (const path of NOT_STORED) rest = take(rest, path.split('.'))[0];
    if (secure) out[SECURE] = 1;
    return JSON.stringify({ ...out, ...rest });
  }

  decode(raw: string): SessionData {
    const { [SECURE]: secure, ...stored } = JSON.parse(raw) as Obj;
    const out: Obj = {};
    for (const [key, value] of Object.entries(stored)) if (!BY_SHORT.has(key)) out[key] = value;
    for (const [key, value] of Object.entries(stored)) {
      const field = BY_SHORT.get(key);
      if (field) put(out, field.path, fromStored(value, field.unit));
    }
    // express-session slides `expires` forward on every request anyway (touch).
    (out as { cookie?: object }).cookie = {
      originalMaxAge: this.cookie.maxAgeMs,
      expires: new Date(Date.now() + this.cookie.maxAgeMs),
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
      secure: secure === 1,
    };
    // The cookie as a plain object, as any store hands it over: Store#createSession makes the Cookie.
    return out as unknown as SessionData;
  }
}
