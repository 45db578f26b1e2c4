import type { PeerLink } from '../peer-link.js';
import {
  beaconSchema,
  bodySchema,
  pageSchema,
  type Beacon,
  type Body,
  type Item,
} from '../messages.js';
import { LagHistogram } from '../lag-histogram.js';
import { errorText, mergeTouch, Replica, type CoreOptions } from '../replica.js';
import { Snapshots } from '../snapshots.js';

export type ReplicationMode = 'async' | 'sync';

export interface ReplicatorOptions extends CoreOptions {
  mode: ReplicationMode;
  /** Sync mode: how long a write waits for a peer's acknowledgement before giving up on it. */
  syncTimeoutMs: number;
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
  private readonly r: Replica;
  readonly stats: ReplicationStats;
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
  private readonly snapshots: Snapshots;
  private readonly beacons = new Map<string, Beacon>();
  private readonly mismatch = new Map<string, { key: string; count: number }>();
  private readonly touched = new Map<string, Item>();
  private queue: Item[] | undefined = [];
  private pulling = false;
  private transfers = 0;

  constructor(
    private readonly link: PeerLink,
    private readonly o: ReplicatorOptions,
  ) {
    this.r = new Replica(link, o);
    this.stats = {
      syncTimeouts: 0,
      transferredItems: 0,
      queuedDuringTransfer: 0,
      staleDropped: 0,
      antiEntropyPulls: 0,
      sent: this.r.sent,
    };
    this.snapshots = new Snapshots(o.now);
    link.setBeacon((): Beacon => ({ ready: this.ready, digest: this.map.digest() }));
    link.listen({
      message: (from, body, receivedAt) => this.receive(from, body, receivedAt),
      beacon: (from, beacon) => {
        this.beacon(from, beacon);
      },
      peerDown: (peer) => {
        this.beacons.delete(peer);
        this.mismatch.delete(peer);
      },
    });
  }

  /** This replica's copy of every session. */
  get map() {
    return this.r.map;
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
    const inTime = await this.r.copyFromPeer(
      (p) => this.beacons.get(p),
      async (donor) => {
        this.stats.transferredItems += await this.pull(donor);
      },
    );
    if (!inTime)
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

  /** Every page of `peer`'s state, merged as it comes; returns how many items came. */
  private async pull(peer: string): Promise<number> {
    const transfer = `${this.link.self}:${++this.transfers}`;
    let count = 0;
    for (let page = 0; ; page++) {
      const reply = pageSchema.parse(
        await this.link.request(peer, { t: 'get-all', transfer, page }, this.o.requestTimeoutMs),
      );
      for (const item of reply.items) this.mergeRemote(item);
      for (const state of reply.attempts) this.r.attempts.merge(state);
      count += reply.items.length;
      if (!reply.more) return count;
    }
  }

  // --- anti-entropy -----------------------------------------------------------------------------

  private beacon(from: string, raw: unknown): void {
    const parsed = beaconSchema.safeParse(raw);
    if (!parsed.success) {
      this.r.rejections.refused(from, 'bad beacon');
      return;
    }
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
      this.r.rejections.refused(from, 'bad message body');
      throw new Error('bad message body');
    }
    const body: Body = parsed.data;
    switch (body.t) {
      case 'get-all':
        return this.snapshots.page(`${from}/${body.transfer}`, body.page, () => ({
          items: [...this.map.items()],
          attempts: this.r.attempts.all(),
        }));
      case 'attempts':
        this.r.attempts.merge(body.state);
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
          this.handling.record(this.clockNow() - receivedAt);
        return null;
    }
  }

  /** `receivedAt`: wall time when the frame became visible here, where known. */
  private recordLag(item: Item, receivedAt?: number): void {
    const v = 'gone' in item ? item.gone : (item.created ?? Object.values(item.fields)[0]?.[1]);
    if (!v) return;
    const written = v[0] / 1000;
    const now = this.clockNow();
    this.applied.record(now - written);
    this.lag.record((receivedAt ?? now) - written);
  }

  private clockNow(): number {
    return (this.o.clockNow ?? this.o.now)();
  }

  private mergeRemote(item: Item): boolean {
    this.r.see(item);
    return this.map.merge(item, this.o.now());
  }

  // --- local changes ----------------------------------------------------------------------------

  /** Applies what peers have sent and this thread not yet taken (see PeerLink.drain). */
  catchUp(): void {
    this.r.catchUp();
  }

  /** The session's JSON: every replica holds every session, so this is a lookup in memory. */
  read(id: string): string | undefined {
    this.catchUp();
    return this.map.read(id, this.o.now());
  }

  /** A new session: every field, to every peer (SESSION_CREATED). */
  async create(id: string, fields: Record<string, string>, expiresAt: number): Promise<void> {
    this.catchUp();
    const item = this.r.created(id, fields, expiresAt);
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
    const item = this.r.changed(id, changed, expiresAt);
    this.map.merge(item, this.o.now());
    if (touchOnly) this.touched.set(id, mergeTouch(this.touched.get(id), item));
    else await this.publish({ t: 'delta', items: [item] });
    return true;
  }

  /**
   * Ends sessions everywhere (tombstones); returns how many were alive here. Waits for the peers
   * even in async mode (bounded by the sync timeout): a logout answered before its tombstone
   * left could be undone by this replica crashing and restarting (its old frames are refused
   * then), and logout must be final.
   */
  async destroy(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    this.catchUp();
    const now = this.o.now();
    let alive = 0;
    const items: Item[] = ids.map((id) => {
      if (this.map.has(id, now)) alive++;
      const item = this.r.ended(id, now);
      this.map.merge(item, now);
      this.touched.delete(id);
      return item;
    });
    for (let i = 0; i < items.length; i += 1000)
      await this.publish({ t: 'destroyed', items: items.slice(i, i + 1000) }, 'sync');
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
    return this.r.countAttempts(key);
  }

  /** A login attempt counted on every replica: always waits for the peers (see Replica). */
  changeAttempts(key: string, change: 1 | -1 | 'reset', windowMs = 0): Promise<number> {
    return this.r.changeAttempts(key, change, windowMs, (state) =>
      this.publish({ t: 'attempts', state }, 'sync'),
    );
  }

  sweep(): number {
    return this.map.sweep(this.o.now());
  }

  private async publish(body: Body, mode: ReplicationMode = this.o.mode): Promise<void> {
    const peers = this.link.livePeers();
    this.r.count(body.t, peers.length);
    if (mode === 'async') {
      this.link.send(peers, body);
      return;
    }
    await Promise.all(
      peers.map((p) =>
        this.link.request(p, body, this.o.syncTimeoutMs).catch((err: unknown) => {
          this.stats.syncTimeouts++;
          this.o.log('warn', 'sync replication: a peer did not acknowledge in time', {
            peer: p,
            message: body.t,
            error: errorText(err),
          });
        }),
      ),
    );
  }
}
