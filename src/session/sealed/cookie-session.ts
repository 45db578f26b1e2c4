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
}

type Callback = (err?: unknown) => void;

/** 32 random bytes, base64url: the id a sealed session goes by, as unguessable as a store's. */
const newSid = () => randomBytes(32).toString('base64url');

/** The request's session: its data as own properties (like express-session's), its state private. */
class CookieSession {
  #sid: string;
  #destroyed = false;
  #regenerated = false;

  constructor(
    sid: string,
    data: SealedData,
    private readonly end: (session: CookieSession) => Promise<void>,
  ) {
    this.#sid = sid;
    Object.assign(this, data);
    // Not data: hidden from the copy that is sealed.
    Object.defineProperty(this, 'end', { enumerable: false });
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

  /** What is sealed: the data the app keeps in it. */
  data(): SealedData {
    return { ...this } as SealedData;
  }

  /** A new id and no data: the id a client had before login is worth nothing after it. */
  regenerate(cb: Callback): this {
    for (const key of Object.keys(this)) delete (this as Record<string, unknown>)[key];
    this.#sid = newSid();
    this.#regenerated = true;
    cb();
    return this;
  }

  /** Nothing to write now: the cookie is sealed as the response goes out. */
  save(cb?: Callback): this {
    cb?.();
    return this;
  }

  /** Ended: revoked where the row keeps a denylist, and no cookie is sealed for it again. */
  destroy(cb: Callback): this {
    this.#destroyed = true;
    this.end(this).then(() => cb(), cb);
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

  /** The cookie for the session as it is at the end of the request, if it needs a new one. */
  const setCookie = async (req: Request, res: Response, session: CookieSession, was: string) => {
    if (session.destroyed) return;
    const data = session.data();
    if (!session.regenerated && JSON.stringify(data) === was) return;
    if (!data.passport?.user) {
      // Emptied (a user the deserializer dropped): no cookie for a session that holds nothing.
      if (was) res.clearCookie(o.name, { path: o.cookie.path });
      return;
    }
    const now = Date.now();
    const expiresAt = expiryOf(data, o.lifetime, now);
    const value = await o.seal.seal(session.id, data, expiresAt);
    res.cookie(o.name, value, { ...o.cookie, secure: req.secure, maxAge: expiresAt - now });
  };

  const handler: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    void load(req).then((session) => {
      const was = session.passportUser ? JSON.stringify(session.sealed!.data) : '';
      const current = new CookieSession(
        session.sealed?.sid ?? newSid(),
        session.passportUser ? session.sealed!.data : {},
        async (ended) => {
          if (o.revocations && session.sealed)
            await o.revocations.revoke(publicSessionId(ended.id), session.sealed.expiresAt);
        },
      );
      req.session = current as unknown as Request['session'];
      // Follows regenerate(), as express-session's does.
      Object.defineProperty(req, 'sessionID', { get: () => current.id, configurable: true });
      wrapEnd(res, () => setCookie(req, res, current, was));
      next();
    }, next);
  };

  /** The cookie's session, if it opens and, where the row keeps a denylist, is not on it. */
  async function load(req: Request): Promise<{ sealed?: Sealed; passportUser: boolean }> {
    const sealed = await open(req);
    const user = sealed?.data.passport?.user;
    if (!sealed || !user) return { passportUser: false };
    if (o.revocations) {
      const allowed = await o.revocations.allows({
        publicId: publicSessionId(sealed.sid),
        userId: user.id,
        createdAt: sealed.data.meta?.createdAt ?? 0,
      });
      if (!allowed) return { passportUser: false };
    }
    return { sealed, passportUser: true };
  }

  return {
    handler,
    identify: async (req) => (await open(req))?.sid ?? '',
  };
}

/**
 * Runs `before` when the response is about to end, and ends it after: the cookie must be in the
 * headers, and sealing is asynchronous (WebCrypto). If sealing fails (a session too large for a
 * cookie), the answer becomes a 500 that says so, rather than a response without its cookie.
 */
function wrapEnd(res: Response, before: () => Promise<void>): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    res.end = end as Response['end'];
    if (res.headersSent) return end(...args);
    before().then(
      () => end(...args),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        res.statusCode = 500;
        res.removeHeader('content-length');
        res.setHeader('content-type', 'application/json; charset=utf-8');
        end(JSON.stringify({ statusCode: 500, message: `The session was not saved: ${message}.` }));
      },
    );
    return res;
  }) as Response['end'];
}
