import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

const SAFE_ID = /^[A-Za-z0-9_-]{8,64}$/;
const SLOW_MS = 1000;

declare module 'express-serve-static-core' {
  interface Request {
    requestId?: string;
  }
}

/**
 * First middleware of every request: names the replica that served it (X-Served-By, which the
 * demos and tests read), gives it a request id (nginx's, when it sent a well-formed one) and logs
 * a line when the response is finished: for errors and slow requests, or for all at debug level.
 */
export function requestContext(replica: string, debug: boolean) {
  const logger = new Logger('http');
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Served-By', replica);
    res.setHeader('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // nginx's access log already has every request (with the same request id); a replica logs
      // the ones worth a look, and every one at LOG_LEVEL=debug. A log line per request costs
      // about a tenth of a cheap request's CPU.
      const notable = res.statusCode >= 400 || ms >= SLOW_MS;
      if (!notable && !debug) return;
      logger[notable ? 'log' : 'debug']({
        msg: 'request',
        requestId: req.requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms,
        user: (req as { user?: { id?: string } }).user?.id,
      });
    });
    next();
  };
}
