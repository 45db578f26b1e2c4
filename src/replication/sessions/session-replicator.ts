import type { PeerLink } from '../channel/peer-link.js';
import { findReadyPeer } from '../channel/ready-peer.js';
import { RejectionLog } from '../channel/rejection-log.js';
import { AttemptSlots } from './attempt-slots.js';
import {
  beaconSchema,
  bodySchema,
  pageSchema,
  type Beacon,
  type Body,
  type Item,
} from './messages.js';
import { LagHistogram } from './lag-histogram.js';
import { SessionMap } from './session-map.js';
import { Snapshots } from './snapshots.js';
import { HybridClock, type Version } from './version.js';

export type ReplicationMode = 'async' | 'sync';

export interface ReplicatorOptions {
  mode: ReplicationMode;
  /** Sync mode: how long a write waits for a peer's acknowledgement before giving up on it. */
  syncTimeoutMs: number;
  /** A starting replica is ready after this even if its state transfer has not finished. */
  transferTimeoutMs: number;
  /** How long a starting replica looks for a ready peer to copy before starting empty. */
  discoveryMs: number;
  /** One state-transfer page may take this long. */
  requestTimeoutMs: number;
  /** How long a tombstone outlives the destroy: past any message still in flight. */
  tombstoneMs: number;
  now: () => number;
  /** Wall time in ms with a fraction, for versions (and lag); `now` where absent (tests). */
  clockNow?: () => number;
  log: (level: 'log' | 'warn', message: string, detail?: Record<string, unknown>) => void;
}

/** Counters the benchmark and the logs read. */
export interface ReplicationStats {
  syncTimeouts: number;
  transferredItems: number;
  queuedDuringTransfer: number;
  staleDropped: number;
  antiEntropyPulls: number;
  /** Messages sent, one per peer, by type (created, delta, destroyed, accessed, attempts). */
  sent: Record<string, number>;
}

/**
 * DeltaManager's behaviour over a PeerLink: every local change is merged into this replica's
 * SessionMap and published to the live peers (async: fire and forget; sync: wait until each has
 * applied it, or the timeout); what peers publish is merged in; a starting replica copies the
 * state from a ready peer first, queueing live messages until the copy is complete. Beyond
 * Tomcat: heartbeats carry a digest of the map, and a difference that persists between two
 * heartbeats makes the replicas pull each other's state and merge it (anti-entropy) — which is
 * how they converge after a partition heals, or after a message lost to a crash.
 */
export class SessionReplicator {
  readonly map = new SessionMap();
  readonly stats: ReplicationStats = {
    syncTimeouts: 0,
    transferredItems: 0,
    queuedDuringTransfer: 0,
    staleDropped: 0,
    antiEntropyPulls: 0,
    sent: {},
  };
  /**
   * Replication lag of the live writes (not state transfers, not batched accesses): from the
   * write's version to the moment it is visible here — checked and queued by the peer port,
   * whose queue every read and change of the replicated state takes first (PeerLink.drain).
   */
  readonly lag = new LagHistogram();
  /** From the write's version to its merge into this replica's map (the lazy part included). */
  readonly applied = new LagHistogram();
  /**
   * The part of the applied lag after the frame was visible: waiting in the queue for this
   * replica's main thread (its next read, or its event loop when idle), validation, merge.
   */
  readonly handling = new LagHistogram();
  private readonly clock: HybridClock;
  private readonly attempts: AttemptSlots;
  private readonly snapshots: Snapshots;
  private readonly beacons = new Map<string, Beacon>();
  private readonly mismatch = new Map<string, { key: string; count: number }>();
  private readonly touched = new Map<string, Item>();
  private readonly rejections: RejectionLog;
  private queue: Item[] | undefined = [];
  private pulling = false;
  private transfers = 0;

  constructor(
    private readonly link: PeerLink,
    private readonly o: ReplicatorOptions,
  ) {
    this.clock = new HybridClock(link.self, o.clockNow ?? o.now);
    this.attempts = new AttemptSlots(link.self);
    this.snapshots = new Snapshots(o.now);
    this.rejections = new RejectionLog((m, d) => o.log('warn', m, d));
    link.setBeacon((): Beacon => ({ ready: this.ready, digest: this.map.digest() }));
    link.listen({
      message: (from, body, receivedAt) => this.receive(from, body, receivedAt),
      beacon: (from, beacon) => this.beacon(from, beacon),
      peerDown: (peer) => {
        this.beacons.delete(peer);
        this.mismatch.delete(peer);
      },
    });
  }

  /** False while the state transfer runs: readiness reports "starting". */
  get ready(): boolean {
    return this.queue === undefined;
  }

  // --- state transfer -------------------------------------------------------------------------

  /**
   * Copies every session from a ready peer, then applies what arrived meanwhile. Resolves when
   * done; after `transferTimeoutMs` it resolves anyway with a warning (Tomcat does the same).
   */
  async start(): Promise<void> {
    const started = this.o.now();
    const work = this.transfer();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.o.transferTimeoutMs);
      timer.unref?.();
    });
    const outcome = await Promise.race([work, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      this.o.log('warn', 'state transfer timed out: ready with what has arrived', {
        afterMs: this.o.now() - started,
      });
    const queued = this.queue ?? [];
    this.queue = undefined;
    for (const item of queued) if (!this.mergeRemote(item)) this.stats.staleDropped++;
    this.o.log('log', 'replication ready', {
      sessions: this.map.size(this.o.now()),
      transferred: this.stats.transferredItems,
      queuedMeanwhile: queued.length,
      droppedAsOlder: this.stats.staleDropped,
    });
  }

  private async transfer(): Promise<void> {
    const tried = new Set<string>();
    for (;;) {
      const donor = await this.findDonor(tried);
      if (!donor) return;
      tried.add(donor);
      try {
        const items = await this.pull(donor);
        this.stats.transferredItems += items;
        return;
      } catch (err) {
        this.o.log('warn', 'state transfer from a peer failed: trying another', {
          peer: donor,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  private findDonor(tried: Set<string>): Promise<string | undefined> {
    return findReadyPeer(this.link, (p) => this.beacons.get(p), tried, this.o);
  }

  /** Every page of `peer`'s state, merged as it comes; returns how many items came. */
  private async pull(peer: string): Promise<number> {
    const transfer = `${this.link.self}:${++this.transfers}`;
    let count = 0;
    for (let page = 0; ; page++) {
      const reply = pageSchema.parse(
        await this.link.request(peer, { t: 'get-all', transfer, page }, this.o.requestTimeoutMs),
      );
      for (const item of reply.items) this.mergeRemote(item);
      for (const state of reply.attempts) this.attempts.merge(state);
      count += reply.items.length;
      if (!reply.more) return count;
    }
  }

  // --- anti-entropy -----------------------------------------------------------------------------

  private beacon(from: string, raw: unknown): void {
    const parsed = beaconSchema.safeParse(raw);
    if (!parsed.success) return this.rejections.refused(from, 'bad beacon');
    const b = parsed.data;
    this.beacons.set(from, b);
    const mine = this.map.digest();
    if (!this.ready || !b.ready || b.digest === mine) return void this.mismatch.delete(from);
    // A difference while messages are in flight is normal; one that survives a heartbeat is not.
    const key = `${b.digest}/${mine}`;
    const seen = this.mismatch.get(from);
    const count = seen?.key === key ? seen.count + 1 : 1;
    this.mismatch.set(from, { key, count });
    if (count < 2 || this.pulling) return;
    // Sessions that expired here but not yet swept differ too: sweep before paying for a pull.
    this.map.sweep(this.o.now());
    if (this.map.digest() !== b.digest) void this.reconcile(from);
  }

  /** Pulls `peer`'s whole state and merges it: afterwards we hold at least what it holds. */
  async reconcile(peer: string): Promise<void> {
    this.pulling = true;
    this.mismatch.delete(peer);
    try {
      const items = await this.pull(peer);
      this.stats.antiEntropyPulls++;
      this.o.log('log', 'anti-entropy: merged a peer state that differed', { peer, items });
    } catch (err) {
      this.o.log('warn', 'anti-entropy pull failed', { peer, error: String(err) });
    } finally {
      this.pulling = false;
    }
  }

  // --- incoming ---------------------------------------------------------------------------------

  private receive(from: string, raw: unknown, receivedAt?: number): unknown {
    const parsed = bodySchema.safeParse(raw);
    if (!parsed.success) {
      this.rejections.refused(from, 'bad message body');
      throw new Error('bad message body');
    }
    const body: Body = parsed.data;
    switch (body.t) {
      case 'get-all':
        return this.snapshots.page(`${from}/${body.transfer}`, body.page, () => ({
          items: [...this.map.items()],
          attempts: this.attempts.all(),
        }));
      case 'attempts':
        this.attempts.merge(body.state);
        return null;
      default:
        if (this.queue) {
          this.queue.push(...body.items);
          this.stats.queuedDuringTransfer += body.items.length;
          return null;
        }
        for (const item of body.items) {
          this.mergeRemote(item);
          if (body.t !== 'accessed') this.recordLag(item, receivedAt);
        }
        if (body.t !== 'accessed' && receivedAt !== undefined)
          this.handling.record(performance.now() - receivedAt);
        return null;
    }
  }

  /** `receivedAt`: performance.now() when the frame became visible here, where known. */
  private recordLag(item: Item, receivedAt?: number): void {
    const v = 'gone' in item ? item.gone : (item.created ?? Object.values(item.fields)[0]?.[1]);
    if (!v) return;
    const written = v[0] / 1000;
    const now = (this.o.clockNow ?? this.o.now)();
    this.applied.record(now - written);
    this.lag.record(
      (receivedAt === undefined ? now : performance.timeOrigin + receivedAt) - written,
    );
  }

  private mergeRemote(item: Item): boolean {
    if ('gone' in item) this.clock.see(item.gone);
    else {
      if (item.created) this.clock.see(item.created);
      for (const [, v] of Object.values(item.fields)) this.clock.see(v);
    }
    return this.map.merge(item, this.o.now());
  }

  // --- local changes ----------------------------------------------------------------------------

  /** Applies what peers have sent and this thread not yet taken (see PeerLink.drain). */
  catchUp(): void {
    this.link.drain?.();
  }

  /** The session's JSON: every replica holds every session, so this is a lookup in memory. */
  read(id: string): string | undefined {
    this.catchUp();
    return this.map.read(id, this.o.now());
  }

  /** A new session: every field, to every peer (SESSION_CREATED). */
  async create(id: string, fields: Record<string, string>, expiresAt: number): Promise<void> {
    this.catchUp();
    const v = this.clock.tick();
    const item: Item = { id, created: v, fields: versioned(fields, v), expiresAt };
    this.map.merge(item, this.o.now());
    await this.publish({ t: 'created', items: [item] });
  }

  /**
   * Changed fields of a live session (SESSION_DELTA); false when it is gone here (a request in
   * flight after logout does not bring it back). `touchOnly` (last-seen, cookie expiry): applied
   * here at once, sent with the next batch of accesses rather than per request.
   */
  async update(
    id: string,
    changed: Record<string, string>,
    expiresAt: number,
    touchOnly = false,
  ): Promise<boolean> {
    this.catchUp();
    if (!this.map.has(id, this.o.now())) return false;
    const v = this.clock.tick();
    const item: Item = { id, fields: versioned(changed, v), expiresAt };
    this.map.merge(item, this.o.now());
    if (touchOnly) this.touched.set(id, mergeTouch(this.touched.get(id), item));
    else await this.publish({ t: 'delta', items: [item] });
    return true;
  }

  /** Ends sessions everywhere (tombstones); returns how many were alive here. */
  async destroy(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    this.catchUp();
    const now = this.o.now();
    let alive = 0;
    const items: Item[] = ids.map((id) => {
      if (this.map.has(id, now)) alive++;
      const item: Item = { id, gone: this.clock.tick(), until: now + this.o.tombstoneMs };
      this.map.merge(item, now);
      this.touched.delete(id);
      return item;
    });
    for (let i = 0; i < items.length; i += 1000)
      await this.publish({ t: 'destroyed', items: items.slice(i, i + 1000) });
    return alive;
  }

  /** Sends the batched accesses (SESSION_ACCESSED), one message per peer however many reads. */
  flushAccesses(): void {
    if (this.touched.size === 0) return;
    const items = [...this.touched.values()];
    this.touched.clear();
    for (let i = 0; i < items.length; i += 1000)
      void this.publish({ t: 'accessed', items: items.slice(i, i + 1000) }, 'async');
  }

  countAttempts(key: string): number {
    this.catchUp();
    return this.attempts.count(key, this.o.now());
  }

  /**
   * A login attempt counted (or taken back, or the key reset) on every replica. Always waits for
   * the peers (bounded): the limit must hold for the very next attempt, on any replica.
   */
  async changeAttempts(key: string, change: 1 | -1 | 'reset', windowMs = 0): Promise<number> {
    this.catchUp();
    const v = this.clock.tick();
    const state =
      change === 'reset'
        ? this.attempts.reset(key, v)
        : this.attempts.add(key, change, windowMs, this.o.now(), v);
    await this.publish({ t: 'attempts', state }, 'sync');
    return this.countAttempts(key);
  }

  sweep(): number {
    return this.map.sweep(this.o.now());
  }

  private async publish(body: Body, mode: ReplicationMode = this.o.mode): Promise<void> {
    const peers = this.link.livePeers();
    this.stats.sent[body.t] = (this.stats.sent[body.t] ?? 0) + peers.length;
    if (mode === 'async') return this.link.send(peers, body);
    await Promise.all(
      peers.map((p) =>
        this.link.request(p, body, this.o.syncTimeoutMs).catch((err: unknown) => {
          this.stats.syncTimeouts++;
          this.o.log('warn', 'sync replication: a peer did not acknowledge in time', {
            peer: p,
            message: body.t,
            error: err instanceof Error ? err.message : String(err),
          });
        }),
      ),
    );
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
