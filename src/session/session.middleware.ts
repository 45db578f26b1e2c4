import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import { AppConfig } from '../config/app-config.js';
import { asBackendError } from '../common/backend-errors.js';
import { SESSION_BACKEND } from './session.tokens.js';
import type { SessionBackend } from './session.types.js';

/**
 * Everything a request goes through to become "a logged-in user": express-session (cookie ->
 * stored session), passport (session -> req.user), then the lifetime policy. Errors from the
 * store become a 503 here, so a down Redis gives a clear answer instead of a hang or a 500.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly chain: RequestHandler[];

  constructor(
    private readonly config: AppConfig,
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
  ) {
    const s = config.session;
    this.chain = [
      session({
        name: s.cookieName,
        secret: s.secrets,
        store: backend.store,
        // Only sessions that hold something are stored and get a cookie. Otherwise the first
        // request that misses on another replica would replace the cookie with a new empty one.
        saveUninitialized: false,
        resave: false,
        cookie: {
          httpOnly: true,
          sameSite: 'lax',
          secure: 'auto', // Secure whenever the request came in over TLS (X-Forwarded-Proto via trust proxy)
          maxAge: s.idleTimeoutMs,
          path: '/',
        },
      }),
      passport.initialize(),
      passport.session(),
      (req, res, next) => this.enforceLifetime(req, res, next),
    ];
  }

  use(req: Request, res: Response, next: NextFunction): void {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err) return next(asBackendError(err));
      const handler = this.chain[i++];
      if (!handler) return next();
      try {
        handler(req, res, step);
      } catch (e) {
        step(e);
      }
    };
    step();
  }

  /**
   * Absolute lifetime: a session dies `absoluteTimeout` after login however active it is.
   * Sliding idle timeout: the store's TTL is refreshed by saving the session, at most once per
   * touch interval, which also records "last seen" for the session list. Reads in between cost
   * one store lookup and no write.
   */
  private enforceLifetime(req: Request, res: Response, next: NextFunction): void {
    const meta = req.session?.meta;
    if (!req.user || !meta) return next();
    const now = Date.now();
    if (now - meta.createdAt >= this.config.session.absoluteTimeoutMs) {
      req.user = undefined;
      res.clearCookie(this.config.session.cookieName, { path: '/' });
      req.session.destroy((err) => next(err));
      return;
    }
    if (now - meta.lastSeenAt >= this.config.session.touchIntervalMs) {
      meta.lastSeenAt = now;
      meta.ip = req.ip ?? meta.ip;
    }
    next();
  }
}
