import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Eta } from 'eta';
import { json, urlencoded } from 'express';
import { routeCookie } from './affinity/route-cookie.middleware.js';
import { AppModule } from './app.module.js';
import { compose, whenBodyPresent } from './common/compose.js';
import { JsonLogger } from './common/json-logger.js';
import { requestContext } from './common/request-context.middleware.js';
import { ShutdownState } from './health/shutdown-state.js';
import type { AppConfig } from './config/app-config.js';
import {
  bodyGuard,
  urlGuard,
  verifyFormBody,
  verifyUtf8Body,
} from './security/input-guard.middleware.js';
import { securityHeaders } from './security/security-headers.js';

/** Project root: dist/app.factory.js and src/app.factory.ts both sit one level below it. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the configured Nest app without listening: main.ts listens, tests use it directly. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  // Partial<>: every field is optional anyway; it tells the linter these options are a plain
  // object, which Nest takes them as, though its type extends a class.
  const options: Partial<NestApplicationOptions> = {
    logger: new JsonLogger(config.replicaName, config.logLevel),
    bodyParser: false,
  };
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), options);

  // req.ip and req.secure come from X-Forwarded-For/-Proto only when the peer is the trusted proxy.
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  // No ETag: every answer but a static file is one user's and not stored (Cache-Control:
  // no-store, see security-headers.ts), so a validator would never be asked for, yet costs a
  // SHA-1 per response. Static files keep theirs (express.static makes its own).
  app.set('etag', false);
  // What every request goes through before routing, as one Express layer each (see compose()).
  app.use(
    compose(
      app.get(ShutdownState).middleware,
      requestContext(config.replicaName, ['debug', 'verbose'].includes(config.logLevel)),
      // Only where nginx routes by cookie (the sticky-cookie profile): pin the client here.
      ...(config.routeCookie
        ? [
            routeCookie({
              cookie: config.routeCookie,
              replica: config.replicaName,
              maxAgeMs: config.session.absoluteTimeoutMs,
            }),
          ]
        : []),
      securityHeaders(config.production),
      // Before routing: a path parameter or query value must not carry NUL or broken UTF-8.
      urlGuard,
    ),
  );
  // Bodies are parsed (then checked) only when there is one: not for the GETs that are most traffic.
  app.use(
    whenBodyPresent(
      compose(
        json({ limit: config.bodyLimit, verify: verifyUtf8Body }),
        urlencoded({
          limit: config.bodyLimit,
          extended: false,
          parameterLimit: 50,
          verify: verifyFormBody,
        }),
        // Every string of the body, before anything validates or stores it.
        bodyGuard,
      ),
    ),
  );
  app.useStaticAssets(join(ROOT, 'public'), {
    prefix: '/static/',
    maxAge: config.production ? '1h' : 0,
  });

  const views = join(ROOT, 'views');
  const eta = new Eta({ views, cache: config.production, autoEscape: true });
  app.engine('eta', (file: string, data: object, done: (err: unknown, html?: string) => void) => {
    try {
      done(null, eta.render(file.slice(views.length), data));
    } catch (err) {
      done(err);
    }
  });
  app.setBaseViewsDir(views);
  app.setViewEngine('eta');
  app.enableShutdownHooks();
  return app;
}
