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
      res.locals.user = req.isAuthenticated?.() ? req.user : undefined;
      res.locals.csrfToken = req.csrfToken?.() ?? '';
      res.locals.path = req.path;
    }
    next();
  }
}

/** A redirect target from a query string, only if it stays on this site. */
export function localPath(next: unknown, fallback = '/profile'): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : fallback;
}
