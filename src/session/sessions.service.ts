import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Placement, SessionBackend, SessionBackendRecord } from './backends/backend.js';
import { SESSION_BACKEND, SESSION_BACKEND_RECORD } from './session.tokens.js';
import { publicSessionId } from './session.types.js';

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
  /** `replica`: the memory store only knows this replica's sessions; `cluster`: all of them. */
  scope: 'cluster' | 'replica';
  sessions: SessionView[];
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

@Injectable()
export class SessionsService {
  constructor(
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
    @Inject(SESSION_BACKEND_RECORD) private readonly record: SessionBackendRecord,
  ) {}

  async list(userId: string, currentSid: string): Promise<SessionList> {
    const stored = await this.backend.registry.list(userId);
    const currentId = publicSessionId(currentSid);
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
    return { scope: this.record.scope.sessionList, sessions };
  }

  /** Revokes one of the user's sessions by its public id; returns whether it was the caller's own. */
  async revoke(
    userId: string,
    publicId: string,
    currentSid: string,
  ): Promise<{ wasCurrent: boolean }> {
    if (!(await this.backend.registry.revoke(userId, publicId))) {
      throw new NotFoundException('No such session (it may have ended already).');
    }
    return { wasCurrent: publicId === publicSessionId(currentSid) };
  }

  /** Where the caller's session lives, as the backend knows it. */
  placement(currentSid: string): Promise<Placement[]> {
    return this.backend.locate(publicSessionId(currentSid));
  }

  /** Sessions this replica holds itself, by role; null when they all live in a store. */
  held(): Record<string, number> | null {
    return this.backend.held?.() ?? null;
  }

  async revokeOthers(userId: string, currentSid: string): Promise<{ revoked: number }> {
    const keep = publicSessionId(currentSid);
    return { revoked: await this.backend.registry.revokeAllExcept(userId, keep) };
  }
}
