/**
 * `npm run migration:run`: applies pending migrations and exits. Safe to run again (applied ones
 * are recorded in the `migrations` table); all pending ones run in one transaction. The cluster
 * runner and compose run it once, before any replica starts. Uses the app's config schema.
 */
import { AppConfig } from '../config/app-config.js';
import { createDataSource } from './data-source.js';

async function main(): Promise<void> {
  const config = AppConfig.fromEnv();
  const dataSource = createDataSource(config.databaseUrl);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    const names = applied.map((m) => m.name).join(', ');
    console.log(
      applied.length ? `applied ${applied.length} migration(s): ${names}` : 'schema is up to date',
    );
  } finally {
    await dataSource.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
