import type { DataSource } from 'typeorm';
import { sessionSqlFor, type SessionSql } from './postgres-client.js';

export interface PruneOptions {
  intervalMs: number;
  /** Rows per DELETE: one statement holds its locks only that long. */
  batch: number;
  /** Batches per round at most; the rest waits for the next round. */
  maxBatches: number;
  onError: (message: string, err: unknown) => void;
}

/**
 * Deletes up to `batch` expired rows, oldest first. SKIP LOCKED: replicas pruning at the same
 * time take different rows instead of waiting for each other, and a row a request is updating
 * is left for the next round.
 */
const PRUNE_SESSIONS = `DELETE FROM user_sessions WHERE id IN (
  SELECT id FROM user_sessions WHERE idle_until <= now()
  ORDER BY idle_until LIMIT $1 FOR UPDATE SKIP LOCKED)`;
const PRUNE_ATTEMPTS = `DELETE FROM login_attempts WHERE key IN (
  SELECT key FROM login_attempts WHERE reset_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`;

/** One round: each table in batches until a batch comes back short. Resolves rows deleted. */
export async function pruneOnce(sql: SessionSql, o: Omit<PruneOptions, 'intervalMs' | 'onError'>) {
  let deleted = 0;
  for (const text of [PRUNE_SESSIONS, PRUNE_ATTEMPTS]) {
    for (let i = 0; i < o.maxBatches; i++) {
      const { rowCount } = await sql.query(text, [o.batch]);
      deleted += rowCount;
      if (rowCount < o.batch) break;
    }
  }
  return deleted;
}

/**
 * Expired sessions and attempt windows, deleted in the background on every replica, in bounded
 * batches: no request waits for it, and no statement locks many rows. Reads never see expired
 * rows anyway (they ask for `idle_until > now()`); this only keeps the table small. Returns a
 * stop function.
 */
export function startPruning(sql: SessionSql, o: PruneOptions): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return; // a slow round is not overtaken by the next
    running = true;
    pruneOnce(sql, o)
      .catch((err: unknown) => {
        o.onError('pruning expired sessions failed', err);
      })
      .finally(() => (running = false));
  }, o.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}

/**
 * startPruning() on a connection of its own to the app's database: a batch DELETE holds up no
 * read pipelined behind it. It waits for no request either, so its bound is generous (30 s).
 * Returns the stop, which also closes that connection.
 */
export function pruneInBackground(
  database: DataSource,
  o: Omit<PruneOptions, 'maxBatches'>,
): () => Promise<void> {
  const sql = sessionSqlFor(database, 1, 30_000, 'pruning: ');
  const stop = startPruning(sql, { ...o, maxBatches: 20 });
  return () => {
    stop();
    return sql.end();
  };
}
