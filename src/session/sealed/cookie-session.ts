import { randomBytes } from 'node:crypto';
import type { CookieOptions, NextFunction, Request, RequestHandler, Response } from 'express';
import { CookieSeal, type Sealed, type SealedData } from './cookie-seal.js';
import { publicSessionId, type SessionLifetime } from '../session.types.js';

/**
 * A session kept in its cookie rather than in a store: what express-session does for the other
 * rows, done for a sealed cookie (cookie-seal.ts). The request gets a `req.session` with the methods
 * passport and the app call (`regenerate` at login, `save`, `destroy` at logout), and the cookie is
 * sealed again when the response goes out, if the session changed: at login, at a sliding-expiry
 * touch, at a new display name.
 */

/**
 * A server-side denylist, for a row that keeps logout final with a cookie that lives on in the
 * browser (`stateless-revocable`). Its calls throw when its store is down: the request gets a 503.
 */
export interface Revocations {
  /** Whether a cookie's session may still be used: not revoked, not older than its user's cut-off. */
  allows(session: { publicId: string; userId: string; createdAt: number }): Promise<boolean>;
  /** Refuses the session from now on, at least until `until` (epoch ms), when its cookie expires. */
  revoke(publicId: string, until: number): Promise<void>;
}

/**
 * What a backend that keeps sessions in their cookies gives as `sealed`: the seal made from
 * SESSION_SECRET (newest first), and its denylist if it keeps one.
 */
export function sealedInCookie(
  secrets: readonly string[],
  revocations?: Revocations,
): { seal: CookieSeal; revocations?: Revocations } {
  return { seal: new CookieSeal(secrets), ...(revocations ? { revocations } : {}) };
}

export interface CookieSessionOptions {
  name: string;
  seal: CookieSeal;
  revocations?: Revocations;
  lifetime: SessionLifetime;
  cookie: Pick<CookieOptions, 'httpOnly' | 'sameSite' | 'path'>;
  /** For what no response can report: a cookie that could not go out. */
  warn: (message: string) => void;
}

type Callback = (err?: unknown) => void;

/** 32 random bytes, base64url: the id a sealed session goes by, as unguessable as a store's. */
const newSid = () => randomBytes(32).toString('base64url');

interface SessionHooks {
  /** Ends the id a session had (on the denylist, where the row keeps one); may throw (a 503). */
  retire(sid: string): Promise<void>;
  /** After destroy(): the request has no session any more, as with express-session. */
  destroyed(): void;
}

/** The request's session: its data as own properties (like express-session's), its state private. */
class CookieSession {
  #sid: string;
  #destroyed = false;
  #regenerated = false;
  readonly #hooks: SessionHooks;

  constructor(sid: string, data: SealedData, hooks: SessionHooks) {
    this.#sid = sid;
    this.#hooks = hooks;
    Object.assign(this, data);
  }

  get id(): string {
    return this.#sid;
  }
  get destroyed(): boolean {
    return this.#destroyed;
  }
  get regenerated(): boolean {
    return this.#regenerated;
  }

  /** What is sealed: the data the app keeps in it (its own properties; the state is private). */
  data(): SealedData {
    return Object.fromEntries(Object.entries(this));
  }

  /** Drops the data; the object stays, as it is the request's `req.session`. */
  private clear(): void {
    for (const key of Object.keys(this)) Reflect.deleteProperty(this, key);
  }

  /**
   * A new id and no data: the id a client had before is worth nothing after it. A session that
   * was live (a login over a login) is retired as express-session destroys the old one.
   */
  regenerate(cb: Callback): this {
    this.#hooks.retire(this.#sid).then(() => {
      this.clear();
      this.#sid = newSid();
      this.#regenerated = true;
      cb();
    }, cb);
    return this;
  }

  /** Nothing to write now: the cookie is sealed as the response goes out. */
  save(cb?: Callback): this {
    cb?.();
    return this;
  }

  /**
   * Ended: retired (revoked where the row keeps a denylist), and no cookie is sealed for it again.
   * If retiring fails, nothing is ended: the request fails (a 503) and the client may try again.
   */
  destroy(cb: Callback): this {
    this.#hooks.retire(this.#sid).then(() => {
      this.#destroyed = true;
      this.clear();
      this.#hooks.destroyed();
      cb();
    }, cb);
    return this;
  }

  reload(cb: Callback): this {
    cb();
    return this;
  }

  touch(): this {
    return this;
  }
}

/** When a session's cookie expires: the idle timeout from its last use, capped by its lifetime. */
function expiryOf(data: SealedData, o: SessionLifetime, now: number): number {
  const meta = data.meta;
  if (!meta) return now + o.idleTimeoutMs;
  return Math.min(meta.lastSeenAt + o.idleTimeoutMs, meta.createdAt + o.absoluteTimeoutMs);
}

export interface CookieSessions {
  handler: RequestHandler;
  /**
   * The id of the session the request's cookie holds, or '' for none: what a CSRF token is bound
   * to. It stays the same while the cookie is sealed again and again (a sliding expiry).
   */
  identify: (req: Request) => Promise<string>;
}

/** What a request's cookie turned out to be. */
interface Loaded {
  /** A session that opened, has a user and is not on the denylist. */
  live?: Sealed;
  /** It opened but the denylist refuses it (revoked, cut off): its cookie is cleared. */
  refused: boolean;
}

export function cookieSessions(o: CookieSessionOptions): CookieSessions {
  const opened = new WeakMap<Request, Promise<Sealed | undefined>>();
  const open = (req: Request): Promise<Sealed | undefined> => {
    let found = opened.get(req);
    if (!found) {
      const value = (req.cookies as Record<string, string> | undefined)?.[o.name];
      found = o.seal.open(value);
      opened.set(req, found);
    }
    return found;
  };

  /** The cookie's session, if it opens and, where the row keeps a denylist, is not on it. */
  async function load(req: Request): Promise<Loaded> {
    const sealed = await open(req);
    const user = sealed?.data.passport?.user;
    if (!sealed || !user) return { refused: false };
    if (o.revocations) {
      const allowed = await o.revocations.allows({
        publicId: publicSessionId(sealed.sid),
        userId: user.id,
        createdAt: sealed.data.meta?.createdAt ?? 0,
      });
      if (!allowed) return { refused: true };
    }
    return { live: sealed, refused: false };
  }

  const handler: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    void load(req).then(({ live, refused }) => {
      const was = live ? JSON.stringify(live.data) : '';
      const session = new CookieSession(live?.sid ?? newSid(), live?.data ?? {}, {
        async retire(sid) {
          // Only an id some cookie carries needs ending; until no copy of it can still open:
          // every copy expires by the end of the session's absolute lifetime, however it slid.
          if (!o.revocations || !live || sid !== live.sid) return;
          const createdAt = live.data.meta?.createdAt ?? Date.now();
          const until = Math.max(live.expiresAt, createdAt + o.lifetime.absoluteTimeoutMs);
          await o.revocations.revoke(publicSessionId(sid), until);
        },
        destroyed: () => {
          (req as { session?: unknown }).session = undefined;
        },
      });
      // Not express-session's Session class: the part of it passport and the app call (see top).
      req.session = session as unknown as Request['session'];
      // Follows regenerate(), as express-session's does.
      Object.defineProperty(req, 'sessionID', { get: () => session.id, configurable: true });
      const change = () => cookieChange(session, was, refused);
      wrapEnd(res, change, (what) => write(req, res, session, what), o.warn);
      next();
    }, next);
  };

  /** Seals the session into the response's cookie, or clears the cookie. */
  async function write(
    req: Request,
    res: Response,
    session: CookieSession,
    what: 'seal' | 'clear',
  ) {
    if (what === 'clear') {
      res.clearCookie(o.name, { path: o.cookie.path });
      return;
    }
    const data = session.data();
    const now = Date.now();
    const expiresAt = expiryOf(data, o.lifetime, now);
    const value = await o.seal.seal(session.id, data, expiresAt);
    res.cookie(o.name, value, { ...o.cookie, secure: req.secure, maxAge: expiresAt - now });
  }

  return {
    handler,
    identify: async (req) => (await open(req))?.sid ?? '',
  };
}

/**
 * What the cookie needs at the end of the request: sealed again when the session (with a user)
 * changed or got a new id; cleared when a live one lost its user, or the denylist refused it (so
 * the browser stops sending it); nothing otherwise. A destroyed session's cookie was cleared by
 * whoever destroyed it.
 */
function cookieChange(session: CookieSession, was: string, refused: boolean) {
  if (session.destroyed) return undefined;
  const data = session.data();
  if (data.passport?.user)
    return session.regenerated || JSON.stringify(data) !== was ? ('seal' as const) : undefined;
  return was || refused ? ('clear' as const) : undefined;
}

/** Headers that belong to the answer a failed seal replaces. */
const REPLACED = ['location', 'etag', 'last-modified', 'set-cookie', 'content-length'];

/**
 * Writes the cookie when the response is about to end, and ends it after: the cookie must be in
 * the headers, and sealing is asynchronous (WebCrypto). A second end() while it seals is ignored
 * (the first answer goes out). If sealing fails (a session too large for a cookie), the answer
 * becomes a 500 that says so, rather than a response without its cookie. A response whose headers
 * went out before its end (a stream) cannot carry a new cookie: that is logged.
 */
function wrapEnd(
  res: Response,
  change: () => 'seal' | 'clear' | undefined,
  write: (what: 'seal' | 'clear') => Promise<void>,
  warn: (message: string) => void,
): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  let sealing = false;
  res.end = ((...args: unknown[]) => {
    if (sealing) return res;
    const what = change();
    if (!what) return end(...args);
    if (res.headersSent) {
      warn(
        `the session's cookie could not be ${what === 'seal' ? 'sealed' : 'cleared'}: the headers had gone out`,
      );
      return end(...args);
    }
    sealing = true;
    write(what).then(
      () => end(...args),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        for (const name of REPLACED) res.removeHeader(name);
        res.statusCode = 500;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        end(JSON.stringify({ statusCode: 500, message: `The session was not saved: ${message}.` }));
      },
    );
    return res;
  }) as Response['end'];
}
