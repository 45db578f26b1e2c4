import type { Request, Response } from 'express';
import { sessionOf } from './session.types.js';

/**
 * Ends the request's own session: destroyed in the store (so the cookie fails on every replica),
 * dropped from the request (so the end of the request can't save it again), then the cookie
 * cleared. If the store cannot destroy it (a 503), the browser keeps its cookie to try again:
 * clearing it would log this browser out while the session lived on.
 */
export async function endSession(req: Request, res: Response, cookieName: string): Promise<void> {
  const session = sessionOf(req);
  if (session) {
    await new Promise<void>((resolve, reject) => {
      session.destroy((err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }
  req.user = undefined;
  res.clearCookie(cookieName, { path: '/' });
}
