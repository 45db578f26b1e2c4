import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { AppConfig, ConfigError } from './config/app-config.js';
import { SessionBackendState } from './session/session.module.js';

async function bootstrap(): Promise<void> {
  const config = AppConfig.fromEnv();
  const app = await createApp(config);
  const server = app.getHttpServer();
  // nginx keeps upstream connections open for 4 s; Node must keep them longer, or nginx may reuse
  // a connection Node is closing and the request fails.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 6_000;
  // The app port opens once the session backend has started (e.g. copied every session from a
  // peer): until then nginx finds it closed and sends the request to another replica, rather
  // than to one that would not know the client's session. Bounded by the backend's own timeout.
  await app.init();
  await app.get(SessionBackendState).settled;
  await app.listen(config.port, config.host);
  new Logger('main').log({
    msg: 'listening',
    url: `http://${config.host}:${config.port}`,
    store: config.session.store,
    profile: config.profile,
  });
}

bootstrap().catch((err: unknown) => {
  // A bad configuration is a message for a person, not a stack trace.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
