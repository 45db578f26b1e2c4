import { In, MoreThan, Not, type DataSource, type Repository } from 'typeorm';
import { SessionRecord } from '../session-record.entity.js';

/** What the index keeps about a session; times are epoch milliseconds. */
export interface IndexEntry {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  ip: string;
  device: string;
  replica: string;
}

/**
 * The per-user index of the stores over a server (redis, memcached; for postgres the index row
 * is the session's own row), in Postgres: which sessions a user has, and where each was logged in. Written at login and logout only, read by the session list and by revocation, so an
 * authenticated read never touches it. In Redis, even a user's one-entry sorted set costs more
 * than the session itself (about 170 bytes); a row here costs disk, not memory.
 *
 * Rows are pruned lazily: a user's expired rows go at their next login, idle-expired ones when
 * their sessions are listed.
 */
export class SessionIndex {
  private readonly rows: Repository<SessionRecord>;

  constructor(db: DataSource) {
    this.rows = db.getRepository(SessionRecord);
  }

  /**
   * Records a new session (a row already there is updated), and drops the user's rows that are
   * past their absolute expiry. One statement.
   */
  async add(e: IndexEntry): Promise<void> {
    await this.rows.query(
      `WITH expired AS (
         DELETE FROM user_sessions WHERE user_id = $2 AND expires_at <= now()
       )
       INSERT INTO user_sessions (id, user_id, created_at, expires_at, ip, device, replica)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at,
         expires_at = excluded.expires_at, ip = excluded.ip, device = excluded.device,
         replica = excluded.replica`,
      [
        e.id,
        e.userId,
        new Date(e.createdAt),
        new Date(e.expiresAt),
        e.ip.slice(0, 64),
        e.device.slice(0, 64),
        e.replica.slice(0, 64),
      ],
    );
  }

  /** The user's sessions that have not reached their absolute expiry. */
  async list(userId: string): Promise<SessionRecord[]> {
    return this.rows.find({ where: { userId, expiresAt: MoreThan(new Date()) } });
  }

  async owns(userId: string, id: string): Promise<boolean> {
    return this.rows.exists({ where: { id, userId } });
  }

  /** Ids of every session of the user except `keepId`. */
  async idsExcept(userId: string, keepId: string | null): Promise<string[]> {
    const rows = await this.rows.find({
      select: { id: true },
      where: keepId === null ? { userId } : { userId, id: Not(keepId) },
    });
    return rows.map((r) => r.id);
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length) await this.rows.delete({ id: In(ids) });
  }
}
