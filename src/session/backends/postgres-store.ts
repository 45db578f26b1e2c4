import type { Change } from '../session-merge.js';
import type { SessionLifetime } from '../session.types.js';
import type { Parameter, SessionSql } from './postgres-client.js';
import { SessionStoreBase, type NewSession } from './store-base.js';

const READ = `SELECT data::text AS data FROM user_sessions WHERE id = $1 AND idle_until > now()`;
const READ_MANY = `SELECT id, data::text AS data FROM user_sessions
  WHERE id = ANY($1) AND idle_until > now()`;
/*
 * The session and the changes arrive as JSON text already: `$n::text::jsonb` has the driver send
 * them as text for Postgres to parse, where a jsonb parameter would be JSON-encoded a second time.
 */
/** A new session is its index row, with the session in it: one statement. */
const INSERT = `INSERT INTO user_sessions
    (id, user_id, created_at, expires_at, ip, device, replica, data, idle_until)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)
  ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at,
    expires_at = excluded.expires_at, ip = excluded.ip, device = excluded.device,
    replica = excluded.replica, data = excluded.data, idle_until = excluded.idle_until`;
/** Only a live row: a session that was destroyed, or idled out, stays so. */
const MERGE = `UPDATE user_sessions SET data = session_merge(data, $2::text::jsonb), idle_until = $3
  WHERE id = $1 AND idle_until > now()`;
const DELETE = `WITH gone AS (DELETE FROM user_sessions WHERE id = ANY($1) RETURNING idle_until)
  SELECT count(*) FILTER (WHERE idle_until > now())::int AS alive FROM gone`;

/**
 * Sessions as rows of `user_sessions` (the Spring Session JDBC idea): an authenticated read is
 * one SELECT by primary key and writes nothing; a save of a loaded session is one UPDATE that
 * merges this request's changes in SQL (session_merge) and only if the row is still alive; a
 * destroy is one DELETE. The row is also the per-user index entry (SessionIndex reads the same
 * table), so a new session is one INSERT. Expired rows are deleted in the background
 * (postgres-prune.ts); until then the `idle_until` condition hides them.
 */
export class PostgresSessionStore extends SessionStoreBase {
  constructor(
    private readonly sql: SessionSql,
    lifetime: SessionLifetime,
    onError: (message: string, err: unknown) => void,
  ) {
    super(lifetime, onError);
  }

  protected async fetch(id: string): Promise<string | null> {
    const { rows } = await this.query<{ data: string }>(READ, [id]);
    return rows[0]?.data ?? null;
  }

  async fetchMany(ids: string[]): Promise<Array<string | null>> {
    const { rows } = await this.query<{ id: string; data: string }>(READ_MANY, [ids]);
    const found = new Map(rows.map((r) => [r.id, r.data]));
    return ids.map((id) => found.get(id) ?? null);
  }

  protected async insert({ id, stored, ttlMs, entry }: NewSession): Promise<void> {
    const now = Date.now();
    await this.query(INSERT, [
      id,
      entry?.userId ?? null,
      new Date(entry?.createdAt ?? now),
      new Date(entry?.expiresAt ?? now + this.lifetime.absoluteTimeoutMs),
      (entry?.ip ?? '').slice(0, 64),
      (entry?.device ?? '').slice(0, 64),
      (entry?.replica ?? '').slice(0, 64),
      stored,
      new Date(now + ttlMs),
    ]);
  }

  protected async merge(id: string, changes: Change[], ttlMs: number): Promise<void> {
    await this.query(MERGE, [id, JSON.stringify(changes), new Date(Date.now() + ttlMs)]);
  }

  async remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const { rows } = await this.query<{ alive: number }>(DELETE, [ids]);
    return rows[0]?.alive ?? 0;
  }

  private query<Row extends object>(text: string, values: Parameter[]) {
    return this.sql.query<Row>(text, values);
  }
}
