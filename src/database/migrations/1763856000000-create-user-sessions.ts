import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The redis backend's per-user session index (src/session/session-record.entity.ts). */
export class CreateUserSessions1763856000000 implements MigrationInterface {
  name = 'CreateUserSessions1763856000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "user_sessions" (
        "id" varchar(22) PRIMARY KEY,
        "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
        "created_at" timestamptz NOT NULL,
        "expires_at" timestamptz NOT NULL,
        "ip" varchar(64) NOT NULL,
        "device" varchar(64) NOT NULL,
        "replica" varchar(64) NOT NULL
      )`);
    await q.query(`CREATE INDEX "user_sessions_user_id_idx" ON "user_sessions" ("user_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "user_sessions"`);
  }
}
