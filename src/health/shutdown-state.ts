import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * SIGTERM starts a drain: readiness fails, and every response from then on says
 * `Connection: close`. Without that, nginx keeps reusing its keep-alive connections to this
 * replica under load, the server's close() never sees them idle, and the drain ends only in a
 * SIGKILL that cuts requests off. With it, each connection closes after its current response,
 * nginx's next connect is refused, and it moves to another replica (safe for every method,
 * since nothing was sent).
 */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  draining = false;

  beforeApplicationShutdown(): void {
    this.draining = true;
  }

  /** Express middleware; registered first in app.factory.ts. */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.draining) res.setHeader('Connection', 'close');
    next();
  };
}
