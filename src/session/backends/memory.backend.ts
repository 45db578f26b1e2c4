import type { Request } from 'express';
import { Store, type Session, type SessionData } from 'express-session';
import { apply, changesOf, markLoaded, type Json } from '../session-merge.js';
import type {
  AttemptCounter,
  SessionBackend,
  SessionBackendOptions,
  SessionRegistry,
  StoredSession,
} from '../session.types.js';
import { publicSessionId, sessionTtlMs } from '../session.types.js';

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
 * on a timer, so memory does not grow without bound, and it indexes sessions by user.
 */
export class MemorySessionStore extends Store {
  private readonly sessions = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly options: SessionBackendOptions,
    sweepIntervalMs = 60_000,
  ) {
    super();
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  override get(sid: string, cb: Callback<SessionData | null>): void {
    const entry = this.live(sid);
    cb(null, entry ? (JSON.parse(entry.json) as SessionData) : null);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const loaded = JSON.stringify(data); // before express-session turns data.cookie into a Cookie
    const session = super.createSession(req, data);
    markLoaded(session, loaded);
    return session;
  }

  override set(sid: string, sess: SessionData, cb?: Callback): void {
    const ttl = sessionTtlMs(sess, this.options);
    if (ttl <= 0) return this.destroy(sid, cb);
    const changes = changesOf(sess);
    let data: object = sess;
    if (changes) {
      // An update: only this request's changes, onto what is stored now; gone stays gone.
      const current = this.live(sid);
      if (!current) return cb?.();
      data = apply(JSON.parse(current.json) as Record<string, Json>, changes);
      markLoaded(sess, JSON.stringify(sess));
    }
    this.remove(sid);
    const userId = (data as SessionData).passport?.user?.id;
    this.sessions.set(sid, { json: JSON.stringify(data), expiresAt: Date.now() + ttl, userId });
    if (userId) {
      let sids = this.byUser.get(userId);
      if (!sids) this.byUser.set(userId, (sids = new Set()));
      sids.add(sid);
    }
    cb?.();
  }

  override destroy(sid: string, cb?: Callback): void {
    this.remove(sid);
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

  /** Sessions of one user that are still alive, with their ids. */
  sessionsOf(userId: string): (StoredSession & { sid: string })[] {
    const out: (StoredSession & { sid: string })[] = [];
    for (const sid of this.byUser.get(userId) ?? []) {
      const entry = this.live(sid);
      if (!entry) continue;
      const meta = (JSON.parse(entry.json) as SessionData).meta;
      out.push({ sid, id: publicSessionId(sid), userId, meta });
    }
    return out;
  }

  sweep(now = Date.now()): number {
    let removed = 0;
    for (const [sid, entry] of this.sessions) {
      if (entry.expiresAt <= now) {
        this.remove(sid);
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private live(sid: string): Entry | undefined {
    const entry = this.sessions.get(sid);
    if (entry && entry.expiresAt <= Date.now()) {
      this.remove(sid);
      return undefined;
    }
    return entry;
  }

  private remove(sid: string): void {
    const entry = this.sessions.get(sid);
    if (!entry) return;
    this.sessions.delete(sid);
    if (entry.userId) {
      const sids = this.byUser.get(entry.userId);
      sids?.delete(sid);
      if (sids?.size === 0) this.byUser.delete(entry.userId);
    }
  }
}

/** Honest about its reach: it only knows the sessions this replica holds. */
class MemorySessionRegistry implements SessionRegistry {
  readonly scope = 'replica' as const;
  constructor(private readonly store: MemorySessionStore) {}

  async list(userId: string): Promise<StoredSession[]> {
    return this.store.sessionsOf(userId).map(({ id, meta }) => ({ id, userId, meta }));
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    const target = this.store.sessionsOf(userId).find((s) => s.id === id);
    if (!target) return false;
    this.store.destroy(target.sid);
    return true;
  }

  async revokeAllExcept(userId: string, keepId: string | null): Promise<number> {
    const victims = this.store.sessionsOf(userId).filter((s) => s.id !== keepId);
    for (const s of victims) this.store.destroy(s.sid);
    return victims.length;
  }
}

class MemoryAttemptCounter implements AttemptCounter {
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

export function createMemoryBackend(options: SessionBackendOptions): SessionBackend {
  const store = new MemorySessionStore(options);
  return {
    name: 'memory',
    store,
    registry: new MemorySessionRegistry(store),
    attempts: new MemoryAttemptCounter(),
    ping: async () => undefined,
    close: async () => store.close(),
  };
}
