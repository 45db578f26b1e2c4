import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs Express middleware in order as one middleware. Each `app.use()` is a layer Express's
 * router matches and steps through for every request (~1-2 µs a layer on the whoami path), so
 * the small always-on middleware is grouped. An error, passed on or thrown, skips the rest.
 */
export function compose(...handlers: RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err) {
        next(err);
        return;
      }
      const handler = handlers[i++];
      if (!handler) {
        next();
        return;
      }
      try {
        void handler(req, res, step);
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}

/**
 * Runs `handler` only for a request that has a body (the test body-parser itself makes, type-is'
 * `hasBody`); the others, such as every GET, skip it. For body parsers: those run that test
 * themselves, but only after the router and the parser have been entered, twice over.
 */
export function whenBodyPresent(handler: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const { 'transfer-encoding': chunked, 'content-length': length } = req.headers;
    if (chunked === undefined && Number.isNaN(Number(length))) {
      next();
      return;
    }
    void handler(req, res, next);
  };
}
