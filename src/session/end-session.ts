import type { Request, Response } from 'express';
import { sessionMadeHere, unfoundSessionId } from './session.middleware.js';
import { sessionOf } from './session.types.js';

/**
 * Ends the request's own session: destroyed in the store (so the cookie fails on every replica),
 * dropped from the request (so the end of the request can't save it again), then the cookie
 * cleared. If the store cannot destroy it (a 503), the browser keeps its cookie to try again:
 * clearing it would log this browser out while the session lived on. A session the cookie named
 * that this replica did not find is destroyed too (see unfoundSessionId).
 */
export async function endSession(req: Request, res: Response, cookieName: string): Promise<void> {
  const unfound = unfoundSessionId(req);
  if (unfound !== undefined) {
    await new Promise<void>((resolve, reject) => {
      req.sessionStore.destroy(unfound, (err) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      });
    });
  }
  const session = sessionOf(req);
  if (session && sessionMadeHere(req)) {
    // Made during this request (no cookie, or its session not found): never stored, so nothing
    // to destroy (a tombstone for it would cost every replica); dropped so it is not saved.
    Reflect.deleteProperty(req, 'session');
  } else if (session) {
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
