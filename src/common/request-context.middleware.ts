import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

const SAFE_ID = /^[A-Za-z0-9_-]{8,64}$/;

declare module 'express-serve-static-core' {
  interface Request {
    requestId?: string;
  }
}

/**
 * First middleware of every request: names the replica that served it (X-Served-By, which the
 * demos and tests read), gives it a request id (nginx's, when it sent a well-formed one) and logs
 * one line when the response is finished.
 */
export function requestContext(replica: string) {
  const logger = new Logger('http');
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Served-By', replica);
    res.setHeader('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      if (req.path.startsWith('/health/') && res.statusCode < 400) return;
      logger.log({
        msg: 'request',
        requestId: req.requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        user: (req.user as { id?: string } | undefined)?.id,
      });
    });
    next();
  };
}
