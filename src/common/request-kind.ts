import type { Request } from 'express';

/** API and health routes answer JSON; everything else is a page for a browser. */
export function wantsJson(req: Request): boolean {
  // originalUrl, not path: inside mounted middleware `path` is relative to the mount point.
  const path = req.originalUrl.split('?', 1)[0] ?? '';
  return path === '/api' || path.startsWith('/api/') || path.startsWith('/health/');
}
