import type { SessionData } from 'express-session';
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

/** Removes the value at `path` from `root` (and parents left empty); returns it. */
function take(root: Obj, path: string[]): Json | undefined {
  const [head, ...rest] = path as [string, ...string[]];
  const value = root[head];
  if (rest.length === 0) {
    delete root[head];
    return value;
  }
  if (!isObject(value)) return undefined;
  const found = take(value, rest);
  if (Object.keys(value).length === 0) delete root[head];
  return found;
}

function put(root: Obj, path: string[], value: Json): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key];
  }
  node[path.at(-1)!] = value;
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
    const rest = JSON.parse(JSON.stringify(sess)) as Obj & { cookie?: { secure?: boolean } };
    const secure = rest.cookie?.secure === true;
    delete rest.cookie;
    const out: Obj = {};
    for (const [path, short, unit] of SPLIT) {
      const value = take(rest, path);
      if (value !== undefined) out[short] = toStored(value, unit);
    }
    for (const path of NOT_STORED) take(rest, path.split('.'));
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
    return out as unknown as SessionData;
  }
}
