import type { Request } from 'express';
import { Store, type Session, type SessionData } from 'express-session';
import type { SessionRegistry, StoredSession } from '../session.types.js';
import { publicSessionId, sessionTtlMs, type SessionLifetime } from '../session.types.js';
import { SessionCodec } from '../session-codec.js';
import { changesOf, loadedFormOf, markLoaded, type Change } from '../session-merge.js';
import type { IndexEntry, SessionIndex } from './session-index.js';

export type Callback<T = void> = (err?: unknown, value?: T) => void;

/** Hands a promise's outcome to a Node-style callback (express-session always passes one). */
export function settle<T>(work: Promise<T>, cb?: Callback<T>): void {
  work.then(
    (value) => (value === undefined ? cb?.() : cb?.(null, value)),
    (err: unknown) => cb?.(err),
  );
}

/** A session about to be written for the first time. */
export interface NewSession {
  /** Public id. */
  id: string;
  /** The codec's form, as stored. */
  stored: string;
  ttlMs: number;
  /** What the per-user index keeps about it; undefined for a session nobody is logged in to. */
  entry?: IndexEntry;
}

/**
 * An express-session store over a separate server (Redis, Postgres, Memcached), the same for
 * each: keys are the sessions' public ids (a hash of the id in the cookie); saving a session loaded
 * from the store writes only what changed (session-merge.ts) and never re-creates it, so a request
 * still in flight after a logout cannot bring the session back; sliding expiry is refreshed by
 * saving (see SessionMiddleware), so there is no `touch` and an authenticated read is one lookup.
 * It implements what it honours (get, set, destroy): listing every session has no place in a
 * request, and would need the raw ids that the store never sees.
 *
 * A subclass says how its server does the four things below.
 */
export abstract class SessionStoreBase extends Store {
  readonly codec: SessionCodec;

  constructor(
    protected readonly lifetime: SessionLifetime,
    protected readonly onError: (message: string, err: unknown) => void,
  ) {
    super();
    this.codec = new SessionCodec({ maxAgeMs: lifetime.idleTimeoutMs });
  }

  /** The stored form under a public id, or null when there is none (or it expired). */
  protected abstract fetch(id: string): Promise<string | null>;
  /** The stored forms of several sessions, in order; null for those that are gone. */
  abstract fetchMany(ids: string[]): Promise<Array<string | null>>;
  /** Writes a new session (and its index entry). */
  protected abstract insert(session: NewSession): Promise<void>;
  /** Applies `changes` to the stored session, atomically; does nothing if it is gone. */
  protected abstract merge(id: string, changes: Change[], ttlMs: number): Promise<void>;
  /** Ends sessions by public id, index entries included; resolves how many were still alive. */
  abstract remove(ids: string[]): Promise<number>;

  // express-session's callback API over the promise-returning methods below.
  override get(sid: string, cb: Callback<SessionData | null>): void {
    settle(this.read(sid), cb);
  }
  override set(sid: string, sess: SessionData, cb?: Callback): void {
    settle(this.save(sid, sess), cb);
  }
  override destroy(sid: string, cb?: Callback): void {
    settle(
      this.remove([publicSessionId(sid)]).then(() => undefined),
      cb,
    );
  }

  /** The session stored under `sid`'s public id, or null. */
  async read(sid: string): Promise<SessionData | null> {
    const raw = await this.fetch(publicSessionId(sid));
    if (raw === null) return null;
    const sess = this.codec.decode(raw);
    // The stored form is what a later save compares with: no second serialization per read.
    markLoaded(sess, raw);
    return sess;
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    const loaded = loadedFormOf(data); // express-session copies only the enumerable fields
    const session = super.createSession(req, data);
    if (loaded !== undefined) markLoaded(session, loaded);
    return session;
  }

  /**
   * A new session is created (and indexed); one loaded from the store gets only this request's
   * changes. A session past its absolute lifetime is destroyed instead.
   */
  async save(sid: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const ttlMs = sessionTtlMs(sess, this.lifetime, now);
    const id = publicSessionId(sid);
    if (ttlMs <= 0) {
      await this.remove([id]);
      return;
    }
    const stored = this.codec.encode(sess);
    const changes = changesOf(sess, stored);
    if (changes) {
      if (changes.length) await this.merge(id, changes, ttlMs);
    } else await this.insert({ id, stored, ttlMs, entry: this.entryOf(id, sess, now) });
    // From here on it is a stored session: a later save in the same request (express-session
    // saves again after a login) writes only what changed since, usually nothing.
    markLoaded(sess, stored);
  }

  private entryOf(id: string, sess: SessionData, now: number): IndexEntry | undefined {
    const user = sess.passport?.user;
    if (!user) return undefined;
    const createdAt = sess.meta?.createdAt ?? now;
    return {
      id,
      userId: user.id,
      createdAt,
      expiresAt: createdAt + this.lifetime.absoluteTimeoutMs,
      ip: sess.meta?.ip ?? '',
      device: sess.meta?.userAgent ?? '',
      replica: sess.meta?.replica ?? '',
    };
  }
}

/**
 * A store whose server holds only the sessions, by key (Redis, Memcached): the per-user index
 * lives in Postgres (SessionIndex), written before a new session is, so a session that exists can
 * always be listed and revoked.
 */
export abstract class IndexedKeyValueStore extends SessionStoreBase {
  constructor(
    readonly index: SessionIndex,
    lifetime: SessionLifetime,
    onError: (message: string, err: unknown) => void,
  ) {
    super(lifetime, onError);
  }

  /** Writes a stored form under a public id with a time to live. */
  protected abstract put(id: string, stored: string, ttlMs: number): Promise<void>;
  /** Deletes by public id; resolves how many existed. */
  protected abstract drop(ids: string[]): Promise<number>;

  protected async insert({ id, stored, ttlMs, entry }: NewSession): Promise<void> {
    if (entry) await this.index.add(entry);
    await this.put(id, stored, ttlMs);
  }

  /**
   * The store first: once a session is gone there, it is over on every replica. The index rows
   * are tidying: if Postgres is down they stay, and the next list drops them.
   */
  async remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const ended = await this.drop(ids);
    await this.index.remove(ids).catch((err: unknown) => {
      this.onError('session index: rows left for the next list to prune', err);
    });
    return ended;
  }
}

/**
 * "List and revoke my sessions" over the per-user index in Postgres and a store that can fetch
 * sessions by id: the index says which sessions a user has and where each logged in, the store
 * which of them are still alive.
 */
export class IndexedSessionRegistry implements SessionRegistry {
  constructor(
    private readonly index: SessionIndex,
    private readonly store: SessionStoreBase,
  ) {}

  async list(userId: string): Promise<StoredSession[]> {
    const rows = await this.index.list(userId);
    if (rows.length === 0) return [];
    const values = await this.store.fetchMany(rows.map((r) => r.id));
    const live: StoredSession[] = [];
    const gone: string[] = [];
    rows.forEach((row, i) => {
      const raw = values[i];
      if (!raw) return void gone.push(row.id); // expired while idle: drop it from the index too
      const { meta } = this.store.codec.decode(raw);
      live.push({
        id: row.id,
        userId,
        meta: {
          createdAt: row.createdAt.getTime(),
          lastSeenAt: meta?.lastSeenAt ?? row.createdAt.getTime(),
          ip: row.ip,
          userAgent: row.device,
          replica: row.replica,
        },
      });
    });
    await this.index.remove(gone);
    return live;
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    if (!(await this.index.owns(userId, id))) return false;
    return (await this.store.remove([id])) > 0;
  }

  async revokeAllExcept(userId: string, keepId: string | null): Promise<number> {
    return this.store.remove(await this.index.idsExcept(userId, keepId));
  }
}
