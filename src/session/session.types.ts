import { hash } from 'node:crypto';
import type { Request } from 'express';

/** What the session keeps about the user: enough to answer "who is this?" without Postgres. */
export interface Principal {
  id: string;
  username: string;
  displayName: string;
}

/** Facts about the session itself, shown in the session list. Times are epoch milliseconds. */
export interface SessionMeta {
  createdAt: number;
  lastSeenAt: number;
  ip: string;
  userAgent: string;
  replica: string;
}

declare module 'express-session' {
  interface SessionData {
    passport?: { user?: Principal };
    meta?: SessionMeta;
  }
}

/**
 * The name a session goes by outside the cookie: a hash of its id. The id itself is a credential,
 * so it stays in the cookie; lists, revocation, the per-user index and Redis keys use this one,
 * and a leaked Redis dump or database backup holds no id that logs anyone in.
 */
export const publicSessionId = (sid: string): string =>
  hash('sha256', sid, 'base64url').slice(0, 22);

/**
 * The request's session, if it has one. express-session's types say it always does, but
 * destroy() takes it off the request, and a request no session middleware ran for has none.
 */
export function sessionOf(req: Request): Request['session'] | undefined {
  return req.session;
}

/** A stored session as the registry sees it. */
export interface StoredSession {
  /** publicSessionId() of the session. */
  id: string;
  userId: string;
  meta?: SessionMeta;
}

/**
 * Lists and revokes one user's sessions, by public id. Each backend keeps its own per-user index;
 * its record says whether it sees every replica's sessions or one replica's.
 */
export interface SessionRegistry {
  list(userId: string): Promise<StoredSession[]>;
  /** Destroys session `id` if it belongs to `userId`; false when it does not (or is already gone). */
  revoke(userId: string, id: string): Promise<boolean>;
  /**
   * Destroys every session of `userId` except `keepId`; returns how many went, or null where the
   * server keeps no list to count (a denylist cut-off ends them all, unseen).
   */
  revokeAllExcept(userId: string, keepId: string | null): Promise<number | null>;
}

/** Fixed-window counters (login attempts). Shared by all replicas when the backend is shared. */
export interface AttemptCounter {
  /** Adds one hit to `key` and returns the count within the current window. */
  hit(key: string, windowMs: number): Promise<number>;
  peek(key: string): Promise<number>;
  reset(key: string): Promise<void>;
  /** Takes back one hit (an attempt that turned out fine). */
  release(key: string): Promise<void>;
}

/** How long sessions live: the idle timeout (sliding) and the absolute lifetime from login. */
export interface SessionLifetime {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
}

/** Milliseconds a stored session may live from now: the idle timeout, capped by the absolute lifetime. */
export function sessionTtlMs(
  sess: { meta?: SessionMeta },
  o: SessionLifetime,
  now = Date.now(),
): number {
  const createdAt = sess.meta?.createdAt ?? now;
  return Math.min(o.idleTimeoutMs, createdAt + o.absoluteTimeoutMs - now);
}
