import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  type NestMiddleware,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { PageLocalsMiddleware } from '../common/page-locals.middleware.js';
import { Outages } from '../common/outages.js';
import { databaseOutage } from '../database/outage.js';
import { CsrfMiddleware } from '../security/csrf.middleware.js';
import type { SessionBackend, SessionBackendRecord } from './backends/backend.js';
import { SessionMiddleware } from './session.middleware.js';
import { SESSION_BACKEND, SESSION_BACKEND_RECORD } from './session.tokens.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsInternalController } from './sessions.internal.controller.js';
import { SessionsPagesController } from './sessions.pages.controller.js';
import { SessionsService } from './sessions.service.js';

/**
 * Whether the backend has finished its start(): readiness waits for it (a replica still receiving
 * state must not get requests). Backends without a start() are started at once.
 */
@Injectable()
export class SessionBackendState implements OnApplicationBootstrap {
  private readonly logger = new Logger('session');
  status: 'starting' | 'started' | 'failed' = 'starting';
  error: string | undefined;
  /** Resolves once start() has finished, either way (never rejects). */
  settled: Promise<void> = Promise.resolve();

  constructor(@Inject(SESSION_BACKEND) private readonly backend: SessionBackend) {}

  onApplicationBootstrap(): void {
    // Not awaited here: main.ts decides whether to listen before it is done (see there).
    this.settled = (this.backend.start?.() ?? Promise.resolve()).then(
      () => void (this.status = 'started'),
      (err: unknown) => {
        this.status = 'failed';
        this.error = err instanceof Error ? err.message : String(err);
        this.logger.error({ msg: 'session backend failed to start', error: this.error });
      },
    );
  }
}

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
      if (err) {
        next(err);
        return;
      }
      this.session.use(req, res, (err?: unknown) => {
        if (err) {
          next(err);
          return;
        }
        this.pageLocals.use(req, res, next);
      });
    });
  }
}

/** The session backend named by SESSION_STORE, created by its record, and everything around it. */
@Global()
@Module({})
export class SessionModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(SESSION_BACKEND) private readonly backend: SessionBackend) {}

  static forBackend(record: SessionBackendRecord): DynamicModule {
    const logger = new Logger('session');
    return {
      module: SessionModule,
      imports: [...(record.imports ?? [])],
      providers: [
        { provide: SESSION_BACKEND_RECORD, useValue: record },
        // What a request may find down: the session backend (asked first: its driver's network
        // errors are its own) and Postgres. The error filter turns either into a 503.
        {
          provide: Outages,
          useValue: new Outages([
            { backend: 'session store', isOutage: record.isOutage },
            databaseOutage,
          ]),
        },
        {
          provide: SESSION_BACKEND,
          inject: [AppConfig, ...(record.inject ?? [])],
          useFactory: (config: AppConfig, ...injected: never[]): Promise<SessionBackend> =>
            record.create(
              {
                config: config.session.backend as never,
                idleTimeoutMs: config.session.idleTimeoutMs,
                absoluteTimeoutMs: config.session.absoluteTimeoutMs,
                timeoutMs: config.backendTimeoutMs,
                secrets: config.session.secrets,
                replica: config.replicaName,
                onError: (message, err) => {
                  logger.warn({
                    msg: message,
                    error: err instanceof Error ? err.message : String(err),
                  });
                },
              },
              ...injected,
            ),
        },
        SessionBackendState,
        SessionMiddleware,
        CsrfMiddleware,
        PageLocalsMiddleware,
        RequestSessionMiddleware,
        SessionsService,
      ],
      controllers: [SessionsController, SessionsPagesController, SessionsInternalController],
      exports: [
        SESSION_BACKEND,
        SESSION_BACKEND_RECORD,
        Outages,
        SessionBackendState,
        SessionsService,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestSessionMiddleware).exclude('health/{*rest}').forRoutes('*');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }
}
