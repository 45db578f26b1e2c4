import type { Request } from 'express';
import { Store, type Session, type SessionData } from 'express-session';
import { loadedFormOf, markLoaded } from '../../session/session-merge.js';
import {
  publicSessionId,
  sessionTtlMs,
  type SessionLifetime,
} from '../../session/session.types.js';
import type { SessionCopies } from '../core/replica.js';
import { DELETED } from '../core/session-map.js';

type Callback<T = void> = (err?: unknown, value?: T) => void;

function settle<T>(work: Promise<T>, cb?: Callback<T>): void {
  work.then(
    (value) => (value === undefined ? cb?.() : cb?.(null, value)),
    (err: unknown) => cb?.(err),
  );
}

/** Top-level fields a save changed, as JSON text (DELETED for a removed one). */
function changedFields(loaded: string, stored: string): Record<string, string> {
  const before = JSON.parse(loaded) as Record<string, unknown>;
  const after = JSON.parse(stored) as Record<string, unknown>;
  const changed: Record<string, string> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = JSON.stringify(before[key]);
    const now = after[key] === undefined ? undefined : JSON.stringify(after[key]);
    if (was !== now) changed[key] = now ?? DELETED;
  }
  return changed;
}

/** Saves that only slide the expiry and record "last seen": batched, never one message per read. */
function isTouch(loaded: string, stored: string, changed: Record<string, string>): boolean {
  if (!Object.keys(changed).every((k) => k === 'cookie' || k === 'meta')) return false;
  if (!('meta' in changed)) return true;
  const { meta: before } = JSON.parse(loaded) as { meta?: Record<string, unknown> };
  const { meta: after } = JSON.parse(stored) as { meta?: Record<string, unknown> };
  if (!before || !after) return false;
  return Object.keys({ ...before, ...after }).every(
    (k) => k === 'lastSeenAt' || k === 'ip' || before[k] === after[k],
  );
}

function deliver(json: string | undefined, cb: Callback<SessionData | null>): void {
  if (json === undefined) {
    cb(null, null);
    return;
  }
  const sess = JSON.parse(json) as SessionData;
  markLoaded(sess, json);
  cb(null, sess);
}

function topLevelFields(stored: string): Record<string, string> {
  const parsed = JSON.parse(stored) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) fields[key] = JSON.stringify(value);
  return fields;
}

/**
 * The express-session store of the profiles that keep sessions in the replicas' memory
 * (`replicated`, `backup`): the session lives in this replica's memory, and every change is
 * replicated (to every peer, or to the session's backup). A read sends nothing where the copy is
 * held; a save sends only the top-level fields it changed; a save that only slides the expiry is
 * batched. A save of a session that is gone here (logged out, revoked) does nothing: an in-flight
 * request does not bring it back.
 */
export class ReplicatedSessionStore extends Store {
  constructor(
    private readonly replicator: SessionCopies,
    private readonly lifetime: SessionLifetime,
  ) {
    super();
  }

  override get(sid: string, cb: Callback<SessionData | null>): void {
    let found: ReturnType<SessionCopies['read']>;
    try {
      found = this.replicator.read(publicSessionId(sid));
    } catch (err) {
      cb(err);
      return;
    }
    if (found instanceof Promise)
      found.then((json) => {
        deliver(json, cb);
      }, cb);
    else deliver(found, cb);
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const loaded = loadedFormOf(data);
    const session = super.createSession(req, data);
    if (loaded !== undefined) markLoaded(session, loaded);
    return session;
  }

  override set(sid: string, sess: SessionData, cb?: Callback): void {
    settle(this.save(sid, sess), cb);
  }

  override destroy(sid: string, cb?: Callback): void {
    settle(
      this.replicator.destroy([publicSessionId(sid)]).then(() => undefined),
      cb,
    );
  }

  async save(sid: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const id = publicSessionId(sid);
    const ttl = sessionTtlMs(sess, this.lifetime, now);
    if (ttl <= 0) {
      await this.replicator.destroy([id]);
      return;
    }
    const stored = JSON.stringify(sess);
    const loaded = loadedFormOf(sess);
    if (loaded === undefined) {
      await this.replicator.create(id, topLevelFields(stored), now + ttl);
    } else {
      const changed = changedFields(loaded, stored);
      if (Object.keys(changed).length > 0)
        await this.replicator.update(id, changed, now + ttl, isTouch(loaded, stored, changed));
    }
    markLoaded(sess, stored);
  }
}
