import type { SessionData } from 'express-session';
import type { Change, Json } from './session-merge.js';

/**
 * How a session is stored: compact JSON. The cookie is not stored at all (its settings are the
 * app's, its expiry is the store's TTL; only a Secure flag is kept), and the known fields get
 * one-letter names. About 200 bytes instead of 500 per session, which is most of what a session
 * costs in Redis. Fields the table does not know are stored under their own names.
 */
type Table = { [field: string]: string | [string, Table] };

const TABLE: Table = {
  passport: ['p', { user: ['u', { id: 'i', username: 'n', displayName: 'd' }] }],
  meta: ['m', { createdAt: 'c', lastSeenAt: 'l', ip: 'a', userAgent: 'g', replica: 'r' }],
};
const SECURE = 's';

type Obj = { [key: string]: Json };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function rename(value: Obj, table: Table, decode: boolean): Obj {
  const out: Obj = {};
  for (const [key, v] of Object.entries(value)) {
    const entry = decode ? inverse(table)[key] : table[key];
    if (entry === undefined) out[key] = v;
    else if (typeof entry === 'string') out[entry] = v;
    else out[entry[0]] = isObject(v) ? rename(v, entry[1], decode) : v;
  }
  return out;
}

const inverses = new WeakMap<Table, Table>();
function inverse(table: Table): Table {
  let inv = inverses.get(table);
  if (!inv) {
    inv = {};
    for (const [long, entry] of Object.entries(table)) {
      inv[typeof entry === 'string' ? entry : entry[0]] =
        typeof entry === 'string' ? long : [long, entry[1]];
    }
    inverses.set(table, inv);
  }
  return inv;
}

export interface CookieDefaults {
  maxAgeMs: number;
}

export class SessionCodec {
  constructor(private readonly cookie: CookieDefaults) {}

  encode(sess: SessionData): string {
    const { cookie, ...rest } = JSON.parse(JSON.stringify(sess)) as Obj & {
      cookie?: { secure?: boolean };
    };
    const out = rename(rest, TABLE, false);
    if (cookie?.secure) out[SECURE] = 1;
    return JSON.stringify(out);
  }

  decode(raw: string): SessionData {
    const stored = JSON.parse(raw) as Obj;
    if ('cookie' in stored) return stored as unknown as SessionData; // written before this codec
    const { [SECURE]: secure, ...rest } = stored;
    const now = Date.now();
    return {
      ...(rename(rest, TABLE, true) as unknown as SessionData),
      // express-session slides `expires` forward on every request anyway (touch).
      cookie: {
        originalMaxAge: this.cookie.maxAgeMs,
        expires: new Date(now + this.cookie.maxAgeMs),
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
        secure: secure === 1,
      },
    } as SessionData;
  }

  /** A change to the session, in stored names; undefined for cookie changes (not stored). */
  encodeChange(change: Change): Change | undefined {
    if (change.path[0] === 'cookie') return undefined;
    const path: string[] = [];
    let table: Table | undefined = TABLE;
    for (const key of change.path) {
      const entry: string | [string, Table] | undefined = table?.[key];
      if (entry === undefined) {
        path.push(key);
        table = undefined;
      } else if (typeof entry === 'string') {
        path.push(entry);
        table = undefined;
      } else {
        path.push(entry[0]);
        table = entry[1];
      }
    }
    return { ...change, path };
  }
}
