import type { Request, Response } from 'express';

/**
 * Ends the request's own session: destroyed in the store (so the cookie fails on every replica),
 * dropped from the request (so the end of the request can't save it again), cookie cleared.
 */
export async function endSession(req: Request, res: Response, cookieName: string): Promise<void> {
  res.clearCookie(cookieName, { path: '/' });
  req.user = undefined;
  if (!req.session) return;
  await new Promise<void>((resolve, reject) =>
    req.session.destroy((err) => (err ? reject(err) : resolve())),
  );
}
