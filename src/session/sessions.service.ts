import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Placement, SessionBackend, SessionBackendRecord } from './backends/backend.js';
import { SESSION_BACKEND, SESSION_BACKEND_RECORD } from './session.tokens.js';
import { publicSessionId, type SessionMeta, type StoredSession } from './session.types.js';

export interface SessionView {
  /** A hash of the session id: the id itself is a credential and never leaves the server. */
  id: string;
  current: boolean;
  createdAt: string | null;
  lastSeenAt: string | null;
  ip: string | null;
  userAgent: string | null;
  replica: string | null;
}

export interface SessionList {
  /**
   * `replica`: the memory store only knows this replica's sessions; `cluster`: all of them;
   * `none`: the server keeps no sessions, and lists the caller's own, from its cookie.
   */
  scope: 'cluster' | 'replica' | 'none';
  sessions: SessionView[];
  /** Whether "log out my other sessions" can work here (not where the server keeps nothing). */
  canEndOthers: boolean;
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

@Injectable()
export class SessionsService {
  constructor(
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
    @Inject(SESSION_BACKEND_RECORD) private readonly record: SessionBackendRecord,
  ) {}

  /** `currentMeta`: the caller's session, listed from the request where the server keeps none. */
  async list(userId: string, currentSid: string, currentMeta?: SessionMeta): Promise<SessionList> {
    const currentId = publicSessionId(currentSid);
    const scope = this.record.scope.sessionList;
    const stored: StoredSession[] =
      scope === 'none'
        ? [{ id: currentId, userId, ...(currentMeta ? { meta: currentMeta } : {}) }]
        : await this.backend.registry.list(userId);
    const sessions = stored
      .map(({ id, meta }) => ({
        id,
        current: id === currentId,
        createdAt: iso(meta?.createdAt),
        lastSeenAt: iso(meta?.lastSeenAt),
        ip: meta?.ip ?? null,
        userAgent: meta?.userAgent ?? null,
        replica: meta?.replica ?? null,
      }))
      .sort(
        (a, b) =>
          Number(b.current) - Number(a.current) ||
          (b.lastSeenAt ?? '').localeCompare(a.lastSeenAt ?? ''),
      );
    return {
      scope,
      sessions,
      canEndOthers: !this.backend.sealed || !!this.backend.sealed.revocations,
    };
  }

  /** Revokes one of the user's sessions by its public id; returns whether it was the caller's own. */
  async revoke(
    userId: string,
    publicId: string,
    currentSid: string,
  ): Promise<{ wasCurrent: boolean }> {
    const wasCurrent = publicId === publicSessionId(currentSid);
    // With no server-side list the caller's own is the one session it can name: ended by logout.
    if (this.record.scope.sessionList === 'none' && wasCurrent) return { wasCurrent };
    if (!(await this.backend.registry.revoke(userId, publicId))) {
      throw new NotFoundException('No such session (it may have ended already).');
    }
    return { wasCurrent };
  }

  /** Where the caller's session lives, as the backend knows it. */
  placement(currentSid: string): Promise<Placement[]> {
    return this.backend.locate(publicSessionId(currentSid));
  }

  /** Sessions this replica holds itself, by role; null when they all live in a store. */
  held(): Record<string, number> | null {
    return this.backend.held?.() ?? null;
  }

  /** How many went; null where the server keeps no list to count (they all went, unseen). */
  async revokeOthers(userId: string, currentSid: string): Promise<{ revoked: number | null }> {
    const keep = publicSessionId(currentSid);
    return { revoked: await this.backend.registry.revokeAllExcept(userId, keep) };
  }
}
