import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import cookieParser from 'cookie-parser';
import passport from 'passport';
import { AppConfig } from '../config/app-config.js';
import { Outages } from '../common/outages.js';
import { compose } from '../common/compose.js';
import { cookieSessions } from './sealed/cookie-session.js';
import { SESSION_BACKEND } from './session.tokens.js';
import type { SessionBackend } from './backends/backend.js';
import { sessionOf } from './session.types.js';

/**
 * The session id a request's cookie named when this replica did not find that session (express-
 * session then starts a new one). A logout destroys it anyway: in a partition, or before a copy
 * arrived, the session can live where this replica cannot see it, and the logout must reach it
 * once the copies meet (a tombstone for an id wins over the session).
 */
const unfound = new WeakMap<Request, string>();
export const unfoundSessionId = (req: Request): string | undefined => unfound.get(req);
/** Requests whose session was made during the request: never stored, nothing to destroy. */
const madeHere = new WeakSet<Request>();
export const sessionMadeHere = (req: Request): boolean => madeHere.has(req);

/** Pages have their cookies parsed already (CSRF); a parsed request is not parsed again. */
const parseCookies = cookieParser();
const logger = new Logger('session');

/**
 * Everything a request goes through to become "a logged-in user": express-session (cookie ->
 * stored session), passport (session -> req.user), then the lifetime policy. Errors from the
 * store become a 503 here, so a down Redis gives a clear answer instead of a hang or a 500.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly chain: RequestHandler;
  /** The session's id as read from the request alone: what a CSRF token is bound to. */
  readonly identify: (req: Request) => string | Promise<string>;

  constructor(
    private readonly config: AppConfig,
    @Inject(SESSION_BACKEND) backend: SessionBackend,
    private readonly outages: Outages,
  ) {
    const s = config.session;
    const cookie = { httpOnly: true, sameSite: 'lax', path: '/' } as const;
    let load: RequestHandler;
    if (backend.sealed) {
      const sealed = cookieSessions({
        name: s.cookieName,
        ...backend.sealed,
        lifetime: s,
        cookie,
        warn: (message) => {
          logger.warn({ msg: message });
        },
      });
      load = compose(parseCookies, sealed.handler);
      this.identify = sealed.identify;
    } else {
      load = session({
        name: s.cookieName,
        secret: s.secrets,
        store: backend.store,
        // Only sessions that hold something are stored and get a cookie. Otherwise the first
        // request that misses on another replica would replace the cookie with a new empty one.
        saveUninitialized: false,
        resave: false,
        // Called for a new session; req.sessionID is still the cookie's (unsigned) id, if any,
        // and req.session is not there yet unless a login regenerates it.
        genid: (req) => {
          if (typeof req.sessionID === 'string' && sessionOf(req) === undefined)
            unfound.set(req, req.sessionID);
          madeHere.add(req);
          return randomBytes(24).toString('base64url'); // express-session's own default
        },
        cookie: {
          ...cookie,
          secure: 'auto', // Secure whenever the request came in over TLS (X-Forwarded-Proto via trust proxy)
          maxAge: s.idleTimeoutMs,
        },
      });
      // The signed id in the cookie: the same on every replica, whether or not it knows the session.
      this.identify = (req) => (req.cookies as Record<string, string>)[s.cookieName] ?? '';
    }
    this.chain = compose(load, restoreUser, (req, res, next) => {
      this.enforceLifetime(req, res, next);
    });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // passport's types put its methods on every request; they are there once installed.
    const installed: Partial<Pick<Request, 'isAuthenticated'>> = req;
    if (installed.isAuthenticated === undefined) installPassportMethods(req, res);
    this.chain(req, res, (err?: unknown) => {
      next(err ? this.outages.asHttp(err) : undefined);
    });
  }

  /**
   * Absolute lifetime: a session dies `absoluteTimeout` after login however active it is.
   * Sliding idle timeout: the store's TTL is refreshed by saving the session, at most once per
   * touch interval, which also records "last seen" for the session list. Reads in between cost
   * one store lookup and no write.
   */
  private enforceLifetime(req: Request, res: Response, next: NextFunction): void {
    const meta = req.session.meta;
    if (!req.user || !meta) {
      next();
      return;
    }
    const now = Date.now();
    if (now - meta.createdAt >= this.config.session.absoluteTimeoutMs) {
      req.user = undefined;
      res.clearCookie(this.config.session.cookieName, { path: '/' });
      req.session.destroy((err) => {
        next(err);
      });
      return;
    }
    if (now - meta.lastSeenAt >= this.config.session.touchIntervalMs) {
      meta.lastSeenAt = now;
      meta.ip = req.ip ?? meta.ip;
    }
    next();
  }
}

/**
 * What `passport.initialize()` + `passport.session()` do for a request, without their per-request
 * cost. Those two copy six methods and `_sessionManager` onto every request object (adding
 * properties to a request is the expensive part: ~1 µs each) and build a strategy object with five
 * closures, only to read `req.session.passport.user` and deserialize it. Here the methods live on
 * the app's request prototype (installed once, see below) and the read is done directly, through
 * the same deserializer chain (`passport.deserializeUser`), with the same outcomes:
 * no session support is an error, a user the deserializer rejects is dropped from the session.
 * Login (`passport.authenticate('local')`) still goes through passport proper.
 */
function restoreUser(req: Request, _res: Response, next: NextFunction): void {
  const session = sessionOf(req);
  if (!session) {
    next(
      new Error(
        'Login sessions require session support. Did you forget to use `express-session` middleware?',
      ),
    );
    return;
  }
  // passport's own record of the login (its SessionManager's key); unchecked store data.
  const login = session.passport;
  const stored: unknown = login?.user;
  if (!login || (!stored && stored !== 0)) {
    next();
    return;
  }
  // The overload passport's types call private: the deserializer chain, with no strategy object.
  passport.deserializeUser(stored, req, (err: unknown, user?: Express.User | false | null) => {
    if (err) {
      next(err);
      return;
    }
    if (user) req.user = user;
    else delete login.user;
    next();
  });
}

/**
 * Runs `passport.initialize()` once, on the request prototype rather than on each request: it
 * sets passport's request methods (`logIn`, `logOut`, `isAuthenticated`, …) and its session
 * manager, which every later request then inherits. Express 5 gives each app its own prototype
 * (`app.request`), so no other app is touched. The functions are passport's own, so `req.logIn()`
 * regenerates the session and `req.logOut()` clears it exactly as before.
 */
function installPassportMethods(req: Request, res: Response): void {
  const proto = Object.getPrototypeOf(req) as Request | null;
  // A request that is a plain object (no app prototype to share) gets them as its own.
  const target = proto && proto !== Object.prototype ? proto : req;
  passport.initialize({ compat: false })(target, res, () => undefined);
}
