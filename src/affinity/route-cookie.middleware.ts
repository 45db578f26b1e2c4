import type { NextFunction, Request, Response } from 'express';

/**
 * The value of the first cookie called `name` (the name compared ignoring case), read the way
 * nginx reads `$cookie_<name>`, so the replica judges the route nginx acted on.
 */
export function routeOf(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const wanted = name.toLowerCase();
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === wanted)
      return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Re-pins a client to this replica (Tomcat's JvmRouteBinderValve, HAProxy's `cookie … insert`):
 * when the route cookie names another replica (its own died and nginx failed over to us), names
 * nobody, or holds anything that is not exactly our name, the response sets it to our name. A
 * client already pinned here gets no Set-Cookie (HAProxy's `indirect`), and a response that
 * carries one is `private` unless it says otherwise, so no shared cache hands the route to
 * others (HAProxy's `nocache`). The cookie is not a credential: nginx maps only exact replica
 * names to a replica and anything else to round-robin (cluster/routing/route-cookie.ts).
 */
export function routeCookie(o: { cookie: string; replica: string; maxAgeMs: number }) {
  const value = `${o.cookie}=${o.replica}; Path=/; Max-Age=${Math.floor(o.maxAgeMs / 1000)}; HttpOnly; SameSite=Lax`;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (routeOf(req.headers.cookie, o.cookie) !== o.replica) {
      // Secure over TLS, as the session cookie (req.secure trusts only nginx's X-Forwarded-Proto).
      res.append('Set-Cookie', req.secure ? `${value}; Secure` : value);
      if (!res.getHeader('Cache-Control')) res.setHeader('Cache-Control', 'private');
    }
    next();
  };
}
