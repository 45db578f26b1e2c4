import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row per logged-in session of the stores over a server: the per-user index their session
 * list and revocation read, plus what the list shows about a session that no request needs (where
 * and on which device it logged in). Redis and Memcached keep only what every request reads; see
 * backends/session-index.ts. The postgres backend keeps the session itself in two more columns
 * (`data`, `idle_until`), which only its own SQL reads (backends/postgres-store.ts).
 */
@Entity({ name: 'user_sessions' })
export class SessionRecord {
  /** publicSessionId() of the session: never the session id itself. */
  @PrimaryColumn({ type: 'varchar', length: 22 })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** The absolute end of the session's life; it may end earlier (idle, logout). */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ type: 'varchar', length: 64 })
  ip: string;

  @Column({ type: 'varchar', length: 64 })
  device: string;

  @Column({ type: 'varchar', length: 64 })
  replica: string;
}
