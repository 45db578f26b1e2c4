import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { wantsJson } from '../common/request-kind.js';

/** Helmet's HSTS value (its default), sent in production only. */
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The headers a JSON response needs. A JSON body is never a document: it loads no script, style
 * or frame, so the document headers helmet sends for pages (COOP, Origin-Agent-Cluster, DNS
 * prefetch, X-Download-Options, cross-domain policies, X-XSS-Protection) do nothing on it. What
 * does matter for an API response is kept, and the CSP is the strictest there is:
 * - nosniff, so a browser never reads it as script or HTML;
 * - CSP `default-src 'none'; frame-ancestors 'none'` and X-Frame-Options DENY, in case one is
 *   opened as a document or framed;
 * - Cross-Origin-Resource-Policy same-origin, so another site can't load it with no-cors
 *   (`<script src>`, `<img src>`) and read it through a side channel;
 * - Referrer-Policy no-referrer, and HSTS in production, as for pages;
 * - Cache-Control no-store: an answer is one user's (who they are, their sessions), and no cache
 *   between them and us, nor the browser's, may keep it for someone else to read.
 */
export function apiSecurityHeaders(production: boolean): ReadonlyArray<[string, string]> {
  return [
    ['Cache-Control', 'no-store'],
    ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
    ['Cross-Origin-Resource-Policy', 'same-origin'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ...(production ? [['Strict-Transport-Security', HSTS] as [string, string]] : []),
  ];
}

/**
 * Security headers for every response: helmet's full set for pages (and static files), the
 * precomputed API set above for the JSON routes, which are most of the traffic. Helmet is a
 * dozen middleware, one header each; the API set is a loop over six constant pairs.
 */
export function securityHeaders(production: boolean): RequestHandler {
  const pages = helmet({
    // Plain http on loopback is a supported way to run the demo; don't force https upgrades there.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    strictTransportSecurity: production,
  });
  const api = apiSecurityHeaders(production);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!wantsJson(req)) {
      // A page is one user's too (their profile, their sessions, a CSRF token); static files
      // are everyone's, and keep the caching express.static gives them.
      if (!req.path.startsWith('/static/')) res.setHeader('Cache-Control', 'no-store');
      pages(req, res, next);
      return;
    }
    for (const [name, value] of api) res.setHeader(name, value);
    next();
  };
}
