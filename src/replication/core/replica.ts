import { AttemptSlots } from './attempt-slots.js';
import type { AttemptState, Item } from './messages.js';
import type { PeerLink } from './peer-link.js';
import { findReadyPeer } from './ready-peer.js';
import { RejectionLog } from './rejection-log.js';
import { SessionMap } from './session-map.js';
import { HybridClock, type Version } from './version.js';

export type ReplicationLog = (
  level: 'log' | 'warn',
  message: string,
  detail?: Record<string, unknown>,
) => void;

/** What a session store asks of a replication manager (stores/replicated-store.ts calls it). */
export interface SessionCopies {
  read(id: string): string | undefined | Promise<string | undefined>;
  create(id: string, fields: Record<string, string>, expiresAt: number): Promise<void>;
  update(
    id: string,
    changed: Record<string, string>,
    expiresAt: number,
    touchOnly?: boolean,
  ): Promise<boolean>;
  destroy(ids: string[]): Promise<number>;
}

/**
 * Time and logging, as the core is given them: it reads no clock and starts no timer of its own,
 * so a test can drive it with any time it likes (the model tests do).
 */
export interface CoreOptions {
  /** A starting replica is ready after this even if it has not copied everything from a peer. */
  transferTimeoutMs: number;
  /** How long a starting replica looks for a ready peer to copy from. */
  discoveryMs: number;
  /** One page of a copy from a peer may take this long. */
  requestTimeoutMs: number;
  /** How long a tombstone outlives the destroy: past any message still in flight. */
  tombstoneMs: number;
  now: () => number;
  /** Wall time in ms with a fraction, for versions (and lag); `now` where absent (tests). */
  clockNow?: () => number;
  /** Resolves after `ms` without keeping the process alive (the runtime's timer, not the core's). */
  sleep: (ms: number) => Promise<void>;
  log: ReplicationLog;
}

/**
 * What both managers (replicated and backup) keep alike, composed into each: this replica's
 * copy of the sessions, its hybrid clock, the login-attempt slots every replica counts, the log of
 * refused frames, what was sent by type, and the start (a copy from a ready peer, bounded).
 */
export class Replica {
  readonly map = new SessionMap();
  readonly clock: HybridClock;
  readonly attempts: AttemptSlots;
  readonly rejections: RejectionLog;
  /** Messages sent, one per receiver, by type. */
  readonly sent: Record<string, number> = {};

  constructor(
    readonly link: PeerLink,
    readonly o: CoreOptions,
  ) {
    this.clock = new HybridClock(link.self, o.clockNow ?? o.now);
    this.attempts = new AttemptSlots(link.self);
    this.rejections = new RejectionLog(
      (m, d) => {
        o.log('warn', m, d);
      },
      60_000,
      o.now,
    );
  }

  get self(): string {
    return this.link.self;
  }

  /** Applies what peers have sent and this thread not yet taken (see PeerLink.drain). */
  catchUp(): void {
    this.link.drain?.();
  }

  count(type: string, n: number): void {
    this.sent[type] = (this.sent[type] ?? 0) + n;
  }

  /** The clock moves past every version the item carries (so a later write here is newer). */
  see(item: Item): void {
    if ('gone' in item) {
      this.clock.see(item.gone);
      return;
    }
    if (item.created) this.clock.see(item.created);
    for (const [, v] of Object.values(item.fields)) this.clock.see(v);
  }

  /** A new session's item, every field at one fresh version. */
  created(id: string, fields: Record<string, string>, expiresAt: number): Item {
    const v = this.clock.tick();
    return { id, created: v, fields: versioned(fields, v), expiresAt };
  }

  /** A change of a session's fields, at a fresh version. */
  changed(id: string, fields: Record<string, string>, expiresAt: number): Item {
    return { id, fields: versioned(fields, this.clock.tick()), expiresAt };
  }

  /** The end of a session: a tombstone that outlives any message in flight. */
  ended(id: string, now: number): Item {
    return { id, gone: this.clock.tick(), until: now + this.o.tombstoneMs };
  }

  countAttempts(key: string): number {
    this.catchUp();
    return this.attempts.count(key, this.o.now());
  }

  /**
   * A login attempt counted (or taken back, or the key reset) here; `spread` gets the slot's new
   * state to every peer and resolves once they have it (bounded): the limit must hold for the
   * very next attempt, on any replica. Resolves with the count afterwards.
   */
  async changeAttempts(
    key: string,
    change: 1 | -1 | 'reset',
    windowMs: number,
    spread: (state: AttemptState) => Promise<void>,
  ): Promise<number> {
    this.catchUp();
    const v = this.clock.tick();
    const state =
      change === 'reset'
        ? this.attempts.reset(key, v)
        : this.attempts.add(key, change, windowMs, this.o.now(), v);
    await spread(state);
    return this.countAttempts(key);
  }

  /**
   * The start: `copy` from a ready peer (another one if it fails), until one succeeds or none is
   * left; past `transferTimeoutMs` the replica starts with what has arrived (Tomcat does the same).
   * Resolves with whether it finished in time.
   */
  async copyFromPeer(
    beacon: (peer: string) => { ready: boolean } | undefined,
    copy: (donor: string) => Promise<void>,
  ): Promise<boolean> {
    const work = (async () => {
      const tried = new Set<string>();
      for (;;) {
        const donor = await findReadyPeer(this.link, beacon, tried, this.o);
        if (!donor) return;
        tried.add(donor);
        try {
          await copy(donor);
          return;
        } catch (err) {
          this.o.log('warn', 'copying from a peer failed: trying another', {
            peer: donor,
            error: errorText(err),
          });
        }
      }
    })();
    const outcome = await Promise.race([
      work.then(() => 'done' as const),
      this.o.sleep(this.o.transferTimeoutMs).then(() => 'timeout' as const),
    ]);
    return outcome === 'done';
  }
}

/** Every field at one version: what a new session or a save sends. */
export function versioned(
  fields: Record<string, string>,
  v: Version,
): Record<string, [string, Version]> {
  const out: Record<string, [string, Version]> = {};
  for (const [name, json] of Object.entries(fields)) out[name] = [json, v];
  return out;
}

/** Two touches of one session before a flush: one item, newest fields and expiry. */
export function mergeTouch(before: Item | undefined, next: Item): Item {
  if (!before || 'gone' in before || 'gone' in next) return next;
  return {
    id: next.id,
    fields: { ...before.fields, ...next.fields },
    expiresAt: Math.max(before.expiresAt, next.expiresAt),
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
