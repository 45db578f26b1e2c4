import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The postgres backend (src/session/backends/postgres.backend.ts): a session is its row in
 * `user_sessions`, the table that is already the per-user index of the other stores, so the
 * index *is* the `user_id` column with its index. Two columns more: the stored session and its
 * sliding expiry (null for the index rows of the other stores, which keep sessions elsewhere).
 * A session nobody has logged in to yet has no user. Plus the merge a save applies, in SQL, and the shared login-attempt counters.
 */
export class SessionsInPostgres1764115200000 implements MigrationInterface {
  name = 'SessionsInPostgres1764115200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "user_sessions"
        ALTER COLUMN "user_id" DROP NOT NULL,
        ADD COLUMN "data" jsonb,
        ADD COLUMN "idle_until" timestamptz`);
    // What the background pruning walks, oldest first, in bounded batches.
    await q.query(`
      CREATE INDEX "user_sessions_idle_until_idx" ON "user_sessions" ("idle_until")
      WHERE "idle_until" IS NOT NULL`);
    // The Lua merge of the redis backend, for jsonb: each change sets (or, without a value,
    // deletes) one leaf, making its parents objects where they are not.
    await q.query(`
      CREATE FUNCTION "session_merge"(session jsonb, changes jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        change jsonb;
        path text[];
      BEGIN
        FOR change IN SELECT jsonb_array_elements(changes) LOOP
          path := ARRAY(SELECT jsonb_array_elements_text(change -> 'path'));
          FOR i IN 1 .. cardinality(path) - 1 LOOP
            IF jsonb_typeof(session #> path[1:i]) IS DISTINCT FROM 'object' THEN
              session := jsonb_set(session, path[1:i], '{}', true);
            END IF;
          END LOOP;
          IF change ? 'value' THEN
            session := jsonb_set(session, path, change -> 'value', true);
          ELSE
            session := session #- path;
          END IF;
        END LOOP;
        RETURN session;
      END $$`);
    await q.query(`
      CREATE TABLE "login_attempts" (
        "key" text PRIMARY KEY,
        "count" integer NOT NULL,
        "reset_at" timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX "login_attempts_reset_at_idx" ON "login_attempts" ("reset_at")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "login_attempts"`);
    await q.query(`DROP FUNCTION "session_merge"(jsonb, jsonb)`);
    await q.query(`DELETE FROM "user_sessions" WHERE "idle_until" IS NOT NULL`);
    await q.query(`ALTER TABLE "user_sessions" DROP COLUMN "data", DROP COLUMN "idle_until"`);
  }
}
