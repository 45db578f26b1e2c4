import type { NestExpressApplication } from '@nestjs/platform-express';
import { freePort } from '../../cluster/index.js';
import { createApp } from '../../src/app.factory.js';
import { AppConfig } from '../../src/config/app-config.js';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123';

export interface RunningApp {
  app: NestExpressApplication;
  url: string;
  config: AppConfig;
  close(): Promise<void>;
}

/** The real app, in this process, listening on a free loopback port. */
export async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    SESSION_SECRET: TEST_SECRET,
    LOG_LEVEL: 'error',
    // The lowest argon2 cost argon2 accepts keeps the suite fast; production uses the default.
    ARGON2_MEMORY_KIB: '1024',
    PORT: String(await freePort()),
    ...env,
  });
  const app = await createApp(config);
  await app.listen(config.port, '127.0.0.1');
  return { app, config, url: `http://127.0.0.1:${config.port}`, close: () => app.close() };
}
