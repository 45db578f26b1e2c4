import {
  Global,
  Inject,
  Logger,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
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

@Global()
@Module({
  providers: [
    sessionBackendProvider,
    SessionMiddleware,
    CsrfMiddleware,
    PageLocalsMiddleware,
    SessionsService,
  ],
  controllers: [SessionsController, SessionsPagesController],
  exports: [SESSION_BACKEND, SessionsService],
})
export class SessionModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(SESSION_BACKEND) private readonly backend: SessionBackend) {}

  configure(consumer: MiddlewareConsumer): void {
    // CSRF first: a forged request is refused before it touches the session store.
    consumer
      .apply(CsrfMiddleware, SessionMiddleware, PageLocalsMiddleware)
      .exclude('health/{*rest}')
      .forRoutes('*');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }
}
