import type { AttemptCounter } from '../session.types.js';
import type { SessionSql } from './postgres-client.js';

/** Starts a window on the first hit, or on the first hit after the last window ended. */
const HIT = `INSERT INTO login_attempts AS a (key, count, reset_at)
  VALUES ($1, 1, now() + $2 * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN a.reset_at <= now() THEN 1 ELSE a.count + 1 END,
    reset_at = CASE WHEN a.reset_at <= now() THEN excluded.reset_at ELSE a.reset_at END
  RETURNING count`;
const PEEK = `SELECT count FROM login_attempts WHERE key = $1 AND reset_at > now()`;
const RESET = `DELETE FROM login_attempts WHERE key = $1`;
const RELEASE = `UPDATE login_attempts SET count = count - 1
  WHERE key = $1 AND reset_at > now() AND count > 0`;

/**
 * Fixed-window login-attempt counters in a table, shared by every replica: each call is one
 * statement, atomic under concurrent hits (the upsert takes the row lock). Windows that ended
 * are deleted by the background pruning.
 */
export class PostgresAttemptCounter implements AttemptCounter {
  constructor(private readonly sql: SessionSql) {}

  async hit(key: string, windowMs: number): Promise<number> {
    const {
      rows: [row],
    } = await this.query(HIT, [key, windowMs]);
    if (!row) throw new Error('counting a login attempt returned no row');
    return row.count;
  }

  async peek(key: string): Promise<number> {
    const { rows } = await this.query(PEEK, [key]);
    return rows[0]?.count ?? 0;
  }

  async reset(key: string): Promise<void> {
    await this.query(RESET, [key]);
  }

  async release(key: string): Promise<void> {
    await this.query(RELEASE, [key]);
  }

  private query(text: string, values: Array<string | number>) {
    return this.sql.query<{ count: number }>(text, values);
  }
}
