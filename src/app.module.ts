import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module.js';
import { AuthenticatedGuard } from './auth/authenticated.guard.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source.js';
import { HealthModule } from './health/health.module.js';
import { ProfileModule } from './profile/profile.module.js';
import { sessionBackends } from './session/backends/index.js';
import { SessionModule } from './session/session.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule {
  /** The whole app for one configuration (main.ts parses it from the environment; tests build their own). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config.databaseUrl, config.backendTimeoutMs),
          // A replica may start while Postgres is still coming up; readiness tells when it can serve.
          retryAttempts: 10,
          retryDelay: 1000,
        }),
        SessionModule.forBackend(sessionBackends[config.session.store]),
        UsersModule,
        AuthModule,
        ProfileModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: AuthenticatedGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
