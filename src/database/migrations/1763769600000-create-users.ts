import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateUsers1763769600000 implements MigrationInterface {
  name = 'CreateUsers1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "users" (
        "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        "username" varchar(32) NOT NULL,
        "display_name" varchar(64) NOT NULL,
        "bio" varchar(500) NOT NULL DEFAULT '',
        "password_hash" varchar(255) NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    // Usernames are unique regardless of case: "Alice" and "alice" are one account.
    await q.query(`CREATE UNIQUE INDEX "users_username_lower_key" ON "users" (lower("username"))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "users"`);
  }
}
