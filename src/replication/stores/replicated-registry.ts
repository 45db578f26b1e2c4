import type { SessionData } from 'express-session';
import type {
  AttemptCounter,
  SessionRegistry,
  StoredSession,
} from '../../session/session.types.js';
import type { SessionReplicator } from '../core/replicated/session-replicator.js';

/**
 * Every replica holds every session, so the list and revocation are cluster-wide from any, as far
 * as its copy goes: in a partition, a session made on the other side is not in it.
 */
export class ReplicatedSessionRegistry implements SessionRegistry {
  constructor(private readonly replicator: SessionReplicator) {}

  async list(userId: string): Promise<StoredSession[]> {
    this.replicator.catchUp();
    const now = Date.now();
    const out: StoredSession[] = [];
    for (const id of this.replicator.map.idsOf(userId, now)) {
      const json = this.replicator.map.read(id, now);
      if (json) out.push({ id, userId, meta: (JSON.parse(json) as SessionData).meta });
    }
    return out;
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    this.replicator.catchUp();
    if (!this.replicator.map.idsOf(userId, Date.now()).includes(id)) return false;
    return (await this.replicator.destroy([id])) > 0;
  }

  async revokeAllExcept(userId: string, keepId: string | null): Promise<number> {
    this.replicator.catchUp(); // a session whose copy has arrived but is not applied yet counts
    const ids = this.replicator.map.idsOf(userId, Date.now()).filter((id) => id !== keepId);
    return this.replicator.destroy(ids);
  }
}

/** The login limit, counted on every replica together (see AttemptSlots). */
export class ReplicatedAttemptCounter implements AttemptCounter {
  constructor(
    private readonly replicator: Pick<SessionReplicator, 'changeAttempts' | 'countAttempts'>,
  ) {}

  hit(key: string, windowMs: number): Promise<number> {
    return this.replicator.changeAttempts(key, 1, windowMs);
  }

  async peek(key: string): Promise<number> {
    return this.replicator.countAttempts(key);
  }

  async reset(key: string): Promise<void> {
    await this.replicator.changeAttempts(key, 'reset');
  }

  async release(key: string): Promise<void> {
    await this.replicator.changeAttempts(key, -1);
  }
}
