import {
  ForbiddenException,
  Injectable,
  type NestMiddleware,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { wantsJson } from '../common/request-kind.js';
import { SessionMiddleware } from '../session/session.middleware.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const parseCookies = cookieParser();
const CSRF_PROBLEM = 'is missing, expired or forged';

/**
 * Two defences, one per kind of client:
 * - Forms (HTML routes): a signed double-submit token (csrf-csrf). The token is bound to the
 *   session's id as the request's cookie carries it (SessionMiddleware.identify), not to the stored
 *   session, so it verifies on every replica and a replica that does not know the session still
 *   answers "please log in" rather than "bad token". A sealed cookie is sealed anew as its expiry
 *   slides; the id inside stays, and so does the token.
 * - JSON API: browsers can only send a cross-site POST with a form content type, and mark every
 *   cross-site request with `Sec-Fetch-Site`. Refusing both keeps the API usable from curl
 *   (which sends neither) while a hostile page can't drive it.
 */
@Injectable()
export class CsrfMiddleware implements NestMiddleware {
  private readonly forms;
  /** Each page request's session id, read before the check (for a sealed cookie, asynchronously). */
  private readonly identities = new WeakMap<Request, string>();

  constructor(
    config: AppConfig,
    private readonly session: SessionMiddleware,
  ) {
    this.forms = doubleCsrf({
      getSecret: () => config.session.secrets,
      getSessionIdentifier: (req: Request) => this.identities.get(req) ?? '',
      cookieName: 'csrf',
      // Not a credential: useless without the session cookie it is bound to.
      cookieOptions: { sameSite: 'lax', secure: false, httpOnly: true, path: '/' },
      getCsrfTokenFromRequest: (req: Request) =>
        (req.body as { _csrf?: unknown } | undefined)?._csrf as string,
      errorConfig: {
        message:
          'The form has expired or was not sent by this site. Reload the page and try again.',
      },
    });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // Cookies are parsed for pages only: the API never reads them (express-session parses its own).
    if (!wantsJson(req)) {
      parseCookies(req, res, (err?: unknown) => {
        if (err) {
          next(err);
          return;
        }
        const id = this.session.identify(req);
        if (typeof id === 'string') {
          this.checkForm(req, res, next, id);
          return;
        }
        id.then((found) => {
          this.checkForm(req, res, next, found);
        }, next);
      });
      return;
    }
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') {
      next(
        new ForbiddenException({
          message: 'Cross-site requests to the API are refused.',
          fields: { 'sec-fetch-site': ['must be same-origin or none'] },
        }),
      );
      return;
    }
    // The header itself, not req.is(): that answers null for a body-less POST, which is fine here.
    const type = req.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase();
    if (type && type !== 'application/json' && !type.endsWith('+json')) {
      next(
        new UnsupportedMediaTypeException({
          message: 'The API accepts only application/json request bodies.',
          fields: { 'content-type': ['must be application/json'] },
        }),
      );
      return;
    }
    next();
  }

  private checkForm(req: Request, res: Response, next: NextFunction, id: string): void {
    this.identities.set(req, id);
    this.forms.doubleCsrfProtection(req, res, (err?: unknown) => {
      if (err !== this.forms.invalidCsrfTokenError) {
        next(err);
        return;
      }
      // The form field the token travels in is the bad part: named like any field error.
      next(
        new ForbiddenException({
          message: this.forms.invalidCsrfTokenError.message,
          fields: { _csrf: [CSRF_PROBLEM] },
        }),
      );
    });
  }
}
