import type { Request } from 'express';
import { Store, type Session, type SessionData } from 'express-session';
import { z } from 'zod';
import { apply, changesOf, markLoaded, type Json } from '../session-merge.js';
import type { AttemptCounter, SessionRegistry, StoredSession } from '../session.types.js';
import { publicSessionId, sessionTtlMs, type SessionLifetime } from '../session.types.js';
import { defineBackend } from './backend.js';

interface Entry {
  /** Serialized, so a request never shares an object with the store (as with a real store). */
  json: string;
  expiresAt: number;
  userId?: string;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * In-process session store: each replica has its own, which is exactly what the `naive` and
 * `sticky` profiles demonstrate. Unlike express-session's MemoryStore it sweeps expired sessions
 * on a timer, so memory does not grow without bound, and it indexes sessions by user. Sessions are
 * kept under their public id, as in every backend: the id itself exists only in the cookie.
 */
export class MemorySessionStore extends Store {
  private readonly sessions = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly lifetime: SessionLifetime,
    sweepIntervalMs = 60_000,
  ) {
    super();
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  has(id: string): boolean {
    return this.live(id) !== undefined;
  }

  override get(sid: string, cb: Callback<SessionData | null>): void {
    const entry = this.live(publicSessionId(sid));
    cb(null, entry ? (JSON.parse(entry.json) as SessionData) : null);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const loaded = JSON.stringify(data); // before express-session turns data.cookie into a Cookie
    const session = super.createSession(req, data);
    markLoaded(session, loaded);
    return session;
  }

  override set(sid: string, sess: SessionData, cb?: Callback): void {
    const id = publicSessionId(sid);
    const ttl = sessionTtlMs(sess, this.lifetime);
    if (ttl <= 0) {
      this.destroy(sid, cb);
      return;
    }
    const changes = changesOf(sess);
    let data: object = sess;
    if (changes) {
      // An update: only this request's changes, onto what is stored now; gone stays gone.
      const current = this.live(id);
      if (!current) return cb?.();
      data = apply(JSON.parse(current.json) as Record<string, Json>, changes);
      markLoaded(sess, JSON.stringify(sess));
    }
    this.remove(id);
    const userId = (data as SessionData).passport?.user?.id;
    this.sessions.set(id, { json: JSON.stringify(data), expiresAt: Date.now() + ttl, userId });
    if (userId) {
      let ids = this.byUser.get(userId);
      if (!ids) this.byUser.set(userId, (ids = new Set()));
      ids.add(id);
    }
    cb?.();
  }

  override destroy(sid: string, cb?: Callback): void {
    this.remove(publicSessionId(sid));
    cb?.();
  }

  override length(cb: Callback<number>): void {
    cb(null, this.sessions.size);
  }

  override clear(cb?: Callback): void {
    this.sessions.clear();
    this.byUser.clear();
    cb?.();
  }

  /** Sessions of one user that are still alive. */
  sessionsOf(userId: string): StoredSession[] {
    const out: StoredSession[] = [];
    for (const id of this.byUser.get(userId) ?? []) {
      const entry = this.live(id);
      if (entry) out.push({ id, userId, meta: (JSON.parse(entry.json) as SessionData).meta });
    }
    return out;
  }

  /** Ends a session by its public id. */
  remove(id: string): void {
    const entry = this.sessions.get(id);
    if (!entry) return;
    this.sessions.delete(id);
    if (entry.userId) {
      const ids = this.byUser.get(entry.userId);
      ids?.delete(id);
      if (ids?.size === 0) this.byUser.delete(entry.userId);
    }
  }

  sweep(now = Date.now()): number {
    let removed = 0;
    for (const [id, entry] of this.sessions) {
      if (entry.expiresAt <= now) {
        this.remove(id);
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private live(id: string): Entry | undefined {
    const entry = this.sessions.get(id);
    if (entry && entry.expiresAt <= Date.now()) {
      this.remove(id);
      return undefined;
    }
    return entry;
  }
}

/** It only knows the sessions this replica holds (the record's scope says so). */
class MemorySessionRegistry implements SessionRegistry {
  constructor(private readonly store: MemorySessionStore) {}

  async list(userId: string): Promise<StoredSession[]> {
    return this.store.sessionsOf(userId);
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    if (!this.store.sessionsOf(userId).some((s) => s.id === id)) return false;
    this.store.remove(id);
    return true;
  }

  async revokeAllExcept(userId: string, keepId: string | null): Promise<number> {
    const victims = this.store.sessionsOf(userId).filter((s) => s.id !== keepId);
    for (const s of victims) this.store.remove(s.id);
    return victims.length;
  }
}

export class MemoryAttemptCounter implements AttemptCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  async hit(key: string, windowMs: number): Promise<number> {
    const now = Date.now();
    if (this.windows.size > 10_000) this.prune(now);
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.set(key, { count: 1, resetAt: now + windowMs });
      return 1;
    }
    return ++w.count;
  }

  async peek(key: string): Promise<number> {
    const w = this.windows.get(key);
    return w && w.resetAt > Date.now() ? w.count : 0;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async release(key: string): Promise<void> {
    const w = this.windows.get(key);
    if (w && w.count > 0) w.count--;
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

/** Sessions in each replica's own memory: nothing to run, nothing shared. */
export const memoryBackend = defineBackend({
  name: 'memory',
  summary: "each replica's memory",
  config: z.object({}),
  services: [],
  scope: { sessionList: 'replica', loginLimit: 'replica' },
  async create(deps) {
    const store = new MemorySessionStore(deps);
    return {
      store,
      registry: new MemorySessionRegistry(store),
      attempts: new MemoryAttemptCounter(),
      locate: async (id) =>
        store.has(id) ? [{ holder: deps.replica, role: 'the only copy, in its memory' }] : [],
      held: () => ({ 'in memory': store.size }),
      ready: async () => undefined,
      close: async () => {
        store.close();
      },
    };
  },
  // Nothing here can be unreachable.
  isOutage: () => false,
});
