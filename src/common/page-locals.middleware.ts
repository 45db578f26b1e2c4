import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { wantsJson } from './request-kind.js';

/** What every page shows: the banner (replica, backend, profile), the user, and the form token. */
@Injectable()
export class PageLocalsMiddleware implements NestMiddleware {
  constructor(private readonly config: AppConfig) {}

  use(req: Request, res: Response, next: NextFunction): void {
    if (!wantsJson(req)) {
      res.locals.banner = {
        replica: this.config.replicaName,
        store: this.config.session.store,
        profile: this.config.profile,
      };
      res.locals.user = req.isAuthenticated() ? req.user : undefined;
      res.locals.csrfToken = req.csrfToken?.() ?? '';
      res.locals.path = req.path;
    }
    next();
  }
}

/**
 * The longest redirect target taken from a client: a Location header past nginx's proxy buffer
 * (4 kB) turns the redirect into a 502.
 */
export const MAX_REDIRECT_LENGTH = 2_000;

/** A redirect target from a query string, only if it stays on this site (and is not huge). */
export function localPath(next: unknown, fallback = '/profile'): string {
  return typeof next === 'string' && next.length <= MAX_REDIRECT_LENGTH && /^\/(?![/\\])/.test(next)
    ? next
    : fallback;
}
