import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  startPostgres,
  startRedis,
  type PostgresServer,
  type RedisServer,
} from '../../cluster/index.js';
import { createDataSource } from '../../src/database/data-source.js';

export interface Backends {
  dir: string;
  postgres: PostgresServer;
  redis: RedisServer;
  stop(): Promise<void>;
}

/** Real Postgres (migrated) and Redis on free loopback ports, in a fresh temp dir. */
export async function startBackends(prefix: string): Promise<Backends> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  await chmod(dir, 0o711); // mkdtemp gives 0700; Postgres runs as its own user and must get through
  const postgres = await startPostgres({
    dir: join(dir, 'postgres'),
    port: await freePort(),
    fast: true,
  });
  let redis: RedisServer;
  try {
    redis = await startRedis({ dir: join(dir, 'redis'), port: await freePort() });
    const ds = createDataSource(postgres.url);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'all' });
    await ds.destroy();
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  return {
    dir,
    postgres,
    redis,
    async stop() {
      await Promise.allSettled([redis.stop(), postgres.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
