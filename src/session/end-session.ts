import type { Request, Response } from 'express';

/**
 * Ends the request's own session: destroyed in the store (so the cookie fails on every replica),
 * dropped from the request (so the end of the request can't save it again), then the cookie
 * cleared. If the store cannot destroy it (a 503), the browser keeps its cookie to try again:
 * clearing it would log this browser out while the session lived on.
 */
export async function endSession(req: Request, res: Response, cookieName: string): Promise<void> {
  if (req.session) {
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((err) => {
        err ? reject(err) : resolve();
      }),
    );
  }
  req.user = undefined;
  res.clearCookie(cookieName, { path: '/' });
}
