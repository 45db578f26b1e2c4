import {
  Global,
  Inject,
  Injectable,
  Logger,
  type NestMiddleware,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { PageLocalsMiddleware } from '../common/page-locals.middleware.js';
import { CsrfMiddleware } from '../security/csrf.middleware.js';
import { sessionBackends } from './backends/index.js';
import { SessionMiddleware } from './session.middleware.js';
import { SESSION_BACKEND } from './session.tokens.js';
import type { SessionBackend } from './session.types.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsPagesController } from './sessions.pages.controller.js';
import { SessionsService } from './sessions.service.js';

/** The one place the session backend is chosen: SESSION_STORE names a factory in backends/. */
const sessionBackendProvider = {
  provide: SESSION_BACKEND,
  inject: [AppConfig, DataSource],
  useFactory: (config: AppConfig, database: DataSource): SessionBackend => {
    const logger = new Logger('session');
    return sessionBackends[config.session.store]({
      redisUrl: config.redisUrl,
      database,
      idleTimeoutMs: config.session.idleTimeoutMs,
      absoluteTimeoutMs: config.session.absoluteTimeoutMs,
      timeoutMs: config.backendTimeoutMs,
      onError: (message, err) =>
        logger.warn({ msg: message, error: err instanceof Error ? err.message : String(err) }),
    });
  },
};

/**
 * CSRF check, then the session (cookie -> stored session -> req.user), then the page locals, as
 * one Nest middleware. Nest wraps each middleware it applies in its own route-exclusion test,
 * exception proxy and "already ran for this request" bookkeeping; applied as one, a request pays
 * for those once instead of three times. The order and each step are as before.
 */
@Injectable()
export class RequestSessionMiddleware implements NestMiddleware {
  constructor(
    private readonly csrf: CsrfMiddleware,
    private readonly session: SessionMiddleware,
    private readonly pageLocals: PageLocalsMiddleware,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    // CSRF first: a forged request is refused before it touches the session store.
    this.csrf.use(req, res, (err?: unknown) => {
      if (err) return next(err);
      this.session.use(req, res, (err?: unknown) => {
        if (err) return next(err);
        this.pageLocals.use(req, res, next);
      });
    });
  }
}

@Global()
@Module({
  providers: [
    sessionBackendProvider,
    SessionMiddleware,
    CsrfMiddleware,
    PageLocalsMiddleware,
    RequestSessionMiddleware,
    SessionsService,
  ],
  controllers: [SessionsController, SessionsPagesController],
  exports: [SESSION_BACKEND, SessionsService],
})
export class SessionModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(SESSION_BACKEND) private readonly backend: SessionBackend) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestSessionMiddleware).exclude('health/{*rest}').forRoutes('*');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }
}
