/**
 * `npm run migration:run`: applies pending migrations and exits. Safe to run again (applied ones
 * are recorded in the `migrations` table); all pending ones run in one transaction. The cluster
 * runner and compose run it once, before any replica starts. Uses the app's config schema.
 *
 * `--wait`: applies no migration; exits 0 once the database answers with none pending, 1 after
 * MIGRATE_WAIT_SECONDS (default 300). On Kubernetes, where the migration is a Job that nothing
 * orders before the replicas, each replica's init container runs this (deploy/k8s/). TypeORM
 * creates its empty `migrations` table when it asks; should the Job lose that race on a fresh
 * database, it fails once and its retry applies the migrations.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { createDataSource } from './data-source.js';

async function migrate(databaseUrl: string): Promise<void> {
  const dataSource = createDataSource(databaseUrl);
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

/** Whether the database answers with every migration applied (false while it cannot be asked). */
async function current(databaseUrl: string): Promise<{ ok: boolean; why: string }> {
  const dataSource = createDataSource(databaseUrl);
  try {
    await dataSource.initialize();
    const pending = await dataSource.showMigrations();
    return { ok: !pending, why: pending ? 'migrations pending' : 'schema is up to date' };
  } catch (err) {
    return { ok: false, why: err instanceof Error ? err.message : String(err) };
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

async function waitForSchema(databaseUrl: string): Promise<void> {
  const given = process.env.MIGRATE_WAIT_SECONDS ?? '300';
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`MIGRATE_WAIT_SECONDS: a positive number of seconds, not "${given}"`);
  const deadline = Date.now() + seconds * 1000;
  let said = 0;
  for (;;) {
    const { ok, why } = await current(databaseUrl);
    if (ok) {
      console.log(why);
      return;
    }
    if (Date.now() > deadline) throw new Error(`no current schema after ${seconds} s: ${why}`);
    if (Date.now() - said > 10_000) {
      console.log(`waiting for the migration: ${why}`);
      said = Date.now();
    }
    await sleep(2000);
  }
}

async function main(): Promise<void> {
  const { databaseUrl } = AppConfig.fromEnv();
  await (process.argv.includes('--wait') ? waitForSchema(databaseUrl) : migrate(databaseUrl));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
