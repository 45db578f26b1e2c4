import type { SessionData } from 'express-session';
import type { SessionRegistry, StoredSession } from '../../session/session.types.js';
import type { BackupManager } from '../core/backup/backup-manager.js';

/**
 * A user's sessions are spread over the replicas (each on its primary and backup), so the list
 * asks every live replica for the copies it holds; revocation ends the session everywhere.
 */
export class BackupSessionRegistry implements SessionRegistry {
  constructor(private readonly manager: BackupManager) {}

  async list(userId: string): Promise<StoredSession[]> {
    const held = await this.manager.listOf(userId);
    return held.map(({ id, json }) => ({
      id,
      userId,
      meta: (JSON.parse(json) as SessionData).meta,
    }));
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    if (!(await this.list(userId)).some((s) => s.id === id)) return false;
    return (await this.manager.destroy([id])) > 0;
  }

  async revokeAllExcept(userId: string, keepId: string | null): Promise<number> {
    const ids = (await this.list(userId)).map((s) => s.id).filter((id) => id !== keepId);
    await this.manager.destroy(ids);
    return ids.length;
  }
}
