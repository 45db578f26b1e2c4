import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row per logged-in session of the redis backend: the per-user index its session list and
 * revocation read, plus what the list shows about a session that no request needs (where and on
 * which device it logged in). Redis keeps only what every request reads; see
 * backends/session-index.ts.
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
