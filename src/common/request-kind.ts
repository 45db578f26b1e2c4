import type { Request } from 'express';

const SLASH = 47;
const QUERY = 63;

/** API and health routes answer JSON; everything else is a page for a browser. */
export function wantsJson(req: Request): boolean {
  // originalUrl, not path: inside mounted middleware `path` is relative to the mount point.
  return isJsonPath(req.originalUrl);
}

/**
 * `/api`, `/api/…` and `/health/…`, with or without a query string. Runs several times per
 * request, so it reads the URL in place rather than splitting off the query.
 */
export function isJsonPath(url: string): boolean {
  if (url.startsWith('/api')) {
    const next = url.charCodeAt(4); // NaN when the URL is just "/api"
    return Number.isNaN(next) || next === SLASH || next === QUERY;
  }
  return url.startsWith('/health/');
}
