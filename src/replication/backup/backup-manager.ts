import type { PeerLink } from '../channel/peer-link.js';
import { findReadyPeer } from '../channel/ready-peer.js';
import { RejectionLog } from '../channel/rejection-log.js';
import { AttemptSlots } from '../sessions/attempt-slots.js';
import type { Item } from '../sessions/messages.js';
import type { SessionCopies } from '../sessions/replicated-store.js';
import { SessionMap } from '../sessions/session-map.js';
import { mergeTouch, versioned } from '../sessions/session-replicator.js';
import { HybridClock, newer } from '../sessions/version.js';
import {
  backupBeaconSchema,
  backupBodySchema,
  listReplySchema,
  locationsPageSchema,
  PAGE_SIZE,
  takeReplySchema,
  type BackupBody,
  type Located,
  type Location,
  type LocationsPage,
} from './messages.js';
import { chooseBackup } from './placement.js';

/** Sessions per hand-over request of a leave (see leave). */
const HANDOVER_PAGE = 50;
/** A leave's default budget: well inside the 10 s a stopping replica gets before SIGKILL. */
const LEAVE_BUDGET_MS = 6_000;

export interface BackupOptions {
  /** How long a write waits for the backup's acknowledgement (then it is logged and counted). */
  ackTimeoutMs: number;
  /** How long a proxy holder waits for the copy; past it the request gets a 503, not a hang. */
  fetchTimeoutMs: number;
  /** A starting replica is ready after this even if it has not received every location. */
  transferTimeoutMs: number;
  /** How long a starting replica looks for a ready peer to copy locations from. */
  discoveryMs: number;
  /** One page of locations may take this long. */
  requestTimeoutMs: number;
  /** How long a tombstone outlives the destroy: past any message still in flight. */
  tombstoneMs: number;
  /**
   * How long a graceful leave may hand copies on (LEAVE_BUDGET_MS where absent): past it the
   * replica goes, and the other holders re-back-up what is left, as after a crash.
   */
  leaveBudgetMs?: number;
  now: () => number;
  /** Wall time in ms with a fraction, for versions (and lag); `now` where absent (tests). */
  clockNow?: () => number;
  log: (level: 'log' | 'warn', message: string, detail?: Record<string, unknown>) => void;
}

/** The copy could not be fetched in time (a holder that does not answer): a 503, not a hang. */
export class HoldersUnavailable extends Error {
  override readonly name = 'HoldersUnavailable';
}

export type Role = 'primary' | 'backup' | 'proxy';

/** Counters for /health/ready, the benchmark and the tests. */
export interface BackupStats {
  /** Messages sent, one per receiver, by type (copy, delta, accessed, loc, gone, take, …). */
  sent: Record<string, number>;
  /** A backup holder became primary: its client was sent to it, or its primary left. */
  promotions: number;
  /** A proxy holder fetched the copy and became primary (the backup stayed backup). */
  takeovers: number;
  /** This replica handed its copy to a proxy holder that took over. */
  handovers: number;
  /** A primary picked a new backup (the old one left, or there was none). */
  rebackups: number;
  /** Sessions this replica handed on when it left gracefully (scale-in, a planned stop). */
  handedOn: number;
  /** Sessions whose primary and backup were both gone (as this proxy holder saw it). */
  lost: number;
  ackTimeouts: number;
  fetchFailures: number;
  /** Locations received from a peer at start. */
  transferred: number;
}

/**
 * Tomcat's BackupManager (LazyReplicatedMap) over a PeerLink. Per session: the primary serves it
 * and holds it; one backup, chosen by rendezvous hashing over the live members, holds a full
 * copy and receives every change; every other replica holds a proxy — the location, no value.
 *
 * - A write sends the changed fields to the backup only; creation and destruction (and every
 *   change of location) reach the proxies.
 * - A read on the backup holder (nginx failed its client over there: scenario 1) makes it the
 *   primary; it picks a new backup among the others and tells everyone.
 * - A read on a proxy holder (scenario 2) asks a holder for the copy (`take`): the holder hands
 *   it over and stays backup; the proxy holder becomes primary and tells everyone else.
 * - A member leaving: primaries whose backup left pick a new one; backups whose primary left
 *   promote themselves and pick a new backup. Both gone: the session is lost (counted).
 * - A joining replica receives the locations (proxies), not the values.
 *
 * Locations are versioned with the hybrid clock (the newest wins everywhere, in any order),
 * values merge per field as in `replicated`, and a destroy leaves a tombstone on every replica
 * that beats any late copy, delta or location.
 */
export class BackupManager implements SessionCopies {
  readonly map = new SessionMap();
  readonly stats: BackupStats = {
    sent: {},
    promotions: 0,
    takeovers: 0,
    handovers: 0,
    rebackups: 0,
    handedOn: 0,
    lost: 0,
    ackTimeouts: 0,
    fetchFailures: 0,
    transferred: 0,
  };
  private readonly locs = new Map<string, Location>();
  private readonly clock: HybridClock;
  private readonly attempts: AttemptSlots;
  private readonly rejections: RejectionLog;
  private readonly beacons = new Map<string, { ready: boolean }>();
  private readonly touched = new Map<string, Item>();
  /** Fetches under way, one per session however many requests wait for it. */
  private readonly taking = new Map<string, Promise<string | undefined>>();
  private starting = true;
  /** Leaving (see leave): it makes no location changes of its own any more. */
  private leaving = false;

  constructor(
    private readonly link: PeerLink,
    private readonly o: BackupOptions,
  ) {
    this.clock = new HybridClock(link.self, o.clockNow ?? o.now);
    this.attempts = new AttemptSlots(link.self);
    this.rejections = new RejectionLog((m, d) => o.log('warn', m, d));
    link.setBeacon(() => ({ ready: this.ready }));
    link.listen({
      message: (from, body) => this.receive(from, body),
      beacon: (from, raw) => {
        const parsed = backupBeaconSchema.safeParse(raw);
        if (parsed.success) this.beacons.set(from, parsed.data);
        else this.rejections.refused(from, 'bad beacon');
      },
      peerDown: (peer) => {
        this.beacons.delete(peer);
        this.repairAll();
      },
      peerUp: (peer) => {
        this.pushLocations(peer);
        this.repairAll();
      },
    });
  }

  /** False while the locations are copied from a peer: readiness reports "starting". */
  get ready(): boolean {
    return !this.starting;
  }

  get self(): string {
    return this.link.self;
  }

  // --- start: the locations, not the values ------------------------------------------------------

  async start(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.o.transferTimeoutMs);
      timer.unref?.();
    });
    const outcome = await Promise.race([this.transfer(), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      this.o.log('warn', 'location transfer timed out: ready with what has arrived');
    this.starting = false;
    this.repairAll();
    this.o.log('log', 'backup manager ready', {
      locations: this.locs.size,
      transferred: this.stats.transferred,
    });
  }

  private async transfer(): Promise<void> {
    const tried = new Set<string>();
    for (;;) {
      const donor = await findReadyPeer(this.link, (p) => this.beacons.get(p), tried, this.o);
      if (!donor) return;
      tried.add(donor);
      try {
        let after: string | null = null;
        do {
          const page: LocationsPage = locationsPageSchema.parse(
            await this.link.request(donor, { t: 'locations', after }, this.o.requestTimeoutMs),
          );
          for (const item of page.gone) this.applyGone(item);
          for (const e of page.entries) this.mergeLoc(e.id, e.loc);
          for (const state of page.attempts) this.attempts.merge(state);
          this.stats.transferred += page.entries.length;
          after = page.next;
        } while (after !== null);
        return;
      } catch (err) {
        this.o.log('warn', 'location transfer from a peer failed: trying another', {
          peer: donor,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  // --- reads ---------------------------------------------------------------------------------------

  /**
   * The session's JSON as this replica serves it: from its own copy when it is the primary; the
   * backup holder first becomes primary (scenario 1); a proxy holder fetches the copy and
   * becomes primary (scenario 2). Undefined when the session is unknown (or lost); throws
   * HoldersUnavailable when a holder that should have it does not answer in time.
   */
  read(id: string): string | undefined | Promise<string | undefined> {
    this.catchUp();
    const now = this.o.now();
    const loc = this.locs.get(id);
    if (!loc || loc.primary === this.self) return this.map.read(id, now);
    let pending = this.taking.get(id);
    if (!pending) {
      const work =
        loc.backup === this.self && this.map.has(id, now)
          ? this.promote(id, loc).then(() => this.map.read(id, this.o.now()))
          : this.take(id, loc);
      pending = work.finally(() => this.taking.delete(id));
      this.taking.set(id, pending);
    }
    return pending;
  }

  roleOf(id: string): Role | undefined {
    const loc = this.locs.get(id);
    if (!loc) return undefined;
    return loc.primary === this.self ? 'primary' : loc.backup === this.self ? 'backup' : 'proxy';
  }

  locationOf(id: string): Location | undefined {
    return this.locs.get(id);
  }

  /** Sessions by this replica's role in them. */
  held(): Record<Role, number> {
    const now = this.o.now();
    const out: Record<Role, number> = { primary: 0, backup: 0, proxy: 0 };
    for (const [id, loc] of this.locs) {
      const role =
        loc.primary === this.self ? 'primary' : loc.backup === this.self ? 'backup' : 'proxy';
      if (role === 'proxy' || this.map.has(id, now)) out[role]++;
    }
    return out;
  }

  /** The user's sessions this replica holds a copy of (as primary or backup), as JSON. */
  heldOf(userId: string): Array<{ id: string; json: string }> {
    this.catchUp();
    const now = this.o.now();
    const out: Array<{ id: string; json: string }> = [];
    for (const id of this.map.idsOf(userId, now)) {
      const role = this.roleOf(id);
      const json = this.map.read(id, now);
      if ((role === 'primary' || role === 'backup') && json) out.push({ id, json });
    }
    return out;
  }

  /** The user's sessions on every live replica (each asked, bounded by the fetch timeout). */
  async listOf(userId: string): Promise<Array<{ id: string; json: string }>> {
    const found = new Map(this.heldOf(userId).map((s) => [s.id, s.json]));
    const replies = await Promise.all(
      this.link.livePeers().map((p) =>
        this.link
          .request(p, { t: 'list', user: userId }, this.o.fetchTimeoutMs)
          .then((r) => listReplySchema.parse(r))
          .catch(() => []),
      ),
    );
    for (const reply of replies)
      for (const s of reply) if (!found.has(s.id)) found.set(s.id, s.json);
    return [...found].map(([id, json]) => ({ id, json }));
  }

  /** Whether this replica knows the session at all (a copy or a proxy). */
  knows(id: string): boolean {
    return this.locs.has(id);
  }

  private async take(id: string, loc: Location): Promise<string | undefined> {
    const live = this.link.livePeers();
    const holders = [loc.backup, loc.primary].filter(
      (h): h is string => h !== null && h !== this.self && live.includes(h),
    );
    const deadline = this.o.now() + this.o.fetchTimeoutMs;
    let failed: unknown;
    for (const holder of holders) {
      const left = deadline - this.o.now();
      if (left <= 0) break;
      this.count('take', 1);
      let reply;
      try {
        reply = takeReplySchema.parse(await this.link.request(holder, { t: 'take', id }, left));
      } catch (err) {
        failed = err;
        this.stats.fetchFailures++;
        this.o.log('warn', 'fetching a session from its holder failed', {
          holder,
          error: err instanceof Error ? err.message : String(err),
        });
        continue;
      }
      if (!reply) continue;
      const now = this.o.now();
      this.mergeLoc(id, reply.loc);
      if (this.locs.get(id)?.primary !== this.self) return this.map.read(id, now);
      this.seeItem(reply.item);
      const had = this.map.itemOf(id, now);
      const news = this.map.merge(reply.item, now);
      this.reconcile(holder, id, had, reply.item, news);
      this.stats.takeovers++;
      // Everyone else learns the new location; the old primary, if it lives, keeps a proxy.
      this.sendLoc(
        this.link.livePeers().filter((p) => p !== holder),
        [{ id, loc: reply.loc }],
      );
      return this.map.read(id, now);
    }
    if (failed !== undefined)
      throw new HoldersUnavailable(
        `the session's copies did not answer within ${this.o.fetchTimeoutMs} ms`,
      );
    return undefined;
  }

  // --- writes --------------------------------------------------------------------------------------

  /** Applies what peers have sent and this thread not yet taken (see PeerLink.drain). */
  catchUp(): void {
    this.link.drain?.();
  }

  /** A new session: a full copy to its backup, its location to every other replica. */
  async create(id: string, fields: Record<string, string>, expiresAt: number): Promise<void> {
    this.catchUp();
    const v = this.clock.tick();
    const item: Item = { id, created: v, fields: versioned(fields, v), expiresAt };
    this.map.merge(item, this.o.now());
    const live = this.link.livePeers();
    const loc: Location = {
      primary: this.self,
      backup: chooseBackup(id, live),
      v: this.clock.tick(),
    };
    this.locs.set(id, loc);
    this.sendLoc(
      live.filter((p) => p !== loc.backup),
      [{ id, loc }],
    );
    if (loc.backup) await this.sendCopy(loc.backup, item, loc);
  }

  /**
   * Changed fields of a live session, to its backup only (and waiting for its acknowledgement,
   * bounded); false when the session is gone (an in-flight request does not bring it back).
   * `touchOnly`: batched, sent with the next flush of accesses.
   */
  async update(
    id: string,
    changed: Record<string, string>,
    expiresAt: number,
    touchOnly = false,
  ): Promise<boolean> {
    this.catchUp();
    const now = this.o.now();
    if (!this.map.has(id, now)) return this.passOn(id, changed, expiresAt);
    const item: Item = { id, fields: versioned(changed, this.clock.tick()), expiresAt };
    this.map.merge(item, now);
    const loc = this.locs.get(id);
    // To the other holder: the backup; or, when another replica took the session over while
    // this request ran here (this replica now its backup), to the new primary.
    const other = loc?.primary === this.self ? loc.backup : loc?.primary;
    if (!other) return true;
    if (touchOnly && loc?.primary === this.self)
      this.touched.set(id, mergeTouch(this.touched.get(id), item));
    else await this.ask(other, { t: 'delta', items: [item] }, 'delta');
    return true;
  }

  /**
   * A save on a replica that no longer holds the session: it served the request as primary while
   * another replica took the session over from the backup (the same client's requests on two
   * replicas at once), and the new location, arriving meanwhile, released the copy here. The
   * changed fields go to the primary it names, which passes them on to the backup (`forward`):
   * the write is not lost. A session gone (a tombstone removes the location), lost, or whose
   * copy this replica should hold but does not (expired) stays as it is: false.
   */
  private async passOn(
    id: string,
    changed: Record<string, string>,
    expiresAt: number,
  ): Promise<boolean> {
    const loc = this.locs.get(id);
    if (!loc || loc.primary === this.self || loc.backup === this.self) return false;
    const item: Item = { id, fields: versioned(changed, this.clock.tick()), expiresAt };
    await this.ask(loc.primary, { t: 'delta', items: [item] }, 'delta');
    return true;
  }

  /** Ends sessions everywhere (tombstones, acknowledged by every live peer); how many were known here. */
  async destroy(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    this.catchUp();
    const now = this.o.now();
    let known = 0;
    const items: Item[] = ids.map((id) => {
      if (this.map.has(id, now) || this.locs.has(id)) known++;
      const item: Item = { id, gone: this.clock.tick(), until: now + this.o.tombstoneMs };
      this.applyGone(item);
      return item;
    });
    // Peers that come up meanwhile are told too: they may have copied the location first.
    const told = new Set<string>();
    for (let peers = this.link.livePeers(); peers.length > 0;) {
      for (let i = 0; i < items.length; i += PAGE_SIZE) {
        const body: BackupBody = { t: 'gone', items: items.slice(i, i + PAGE_SIZE) };
        await Promise.all(peers.map((p) => this.ask(p, body, 'gone')));
      }
      peers.forEach((p) => told.add(p));
      peers = this.link.livePeers().filter((p) => !told.has(p));
    }
    return known;
  }

  /** Sends the batched accesses, one message per backup however many reads. */
  flushAccesses(): void {
    if (this.touched.size === 0) return;
    const byBackup = new Map<string, Item[]>();
    for (const [id, item] of this.touched) {
      const loc = this.locs.get(id);
      if (loc?.primary !== this.self || !loc.backup) continue;
      byBackup.set(loc.backup, [...(byBackup.get(loc.backup) ?? []), item]);
    }
    this.touched.clear();
    for (const [backup, items] of byBackup)
      for (let i = 0; i < items.length; i += PAGE_SIZE) {
        this.count('accessed', 1);
        this.link.send(backup, { t: 'accessed', items: items.slice(i, i + PAGE_SIZE) });
      }
  }

  /** Drops expired copies; a primary tells everyone its expired sessions are gone. */
  sweep(): number {
    const now = this.o.now();
    const expired: string[] = [];
    for (const [id, loc] of this.locs)
      if (loc.primary === this.self && !this.map.has(id, now)) expired.push(id);
    if (expired.length) void this.destroy(expired);
    return this.map.sweep(now);
  }

  countAttempts(key: string): number {
    this.catchUp();
    return this.attempts.count(key, this.o.now());
  }

  /** A login attempt counted on every replica, waiting for the peers (as in `replicated`). */
  async changeAttempts(key: string, change: 1 | -1 | 'reset', windowMs = 0): Promise<number> {
    this.catchUp();
    const v = this.clock.tick();
    const state =
      change === 'reset'
        ? this.attempts.reset(key, v)
        : this.attempts.add(key, change, windowMs, this.o.now(), v);
    await Promise.all(
      this.link.livePeers().map((p) => this.ask(p, { t: 'attempts', state }, 'attempts')),
    );
    return this.countAttempts(key);
  }

  // --- membership ----------------------------------------------------------------------------------

  /**
   * A member joined (or came back): it gets the location of every session this replica is
   * primary of — proxies, no values. Each primary knows its sessions' newest location, so the
   * newcomer ends up with every location even if a transfer page missed a change.
   */
  private pushLocations(peer: string): void {
    if (!this.ready) return;
    const mine: Located[] = [];
    for (const [id, loc] of this.locs) if (loc.primary === this.self) mine.push({ id, loc });
    for (let i = 0; i < mine.length; i += PAGE_SIZE) {
      this.count('loc', 1);
      this.link.send(peer, { t: 'loc', entries: mine.slice(i, i + PAGE_SIZE) });
    }
  }

  /** After a member left or came: every session this replica has a part in, put right. */
  private repairAll(): void {
    if (!this.ready) return;
    for (const id of [...this.locs.keys()]) this.repair(id);
  }

  private repair(id: string): void {
    const loc = this.locs.get(id);
    if (!loc || !this.ready || this.leaving) return;
    const live = this.link.livePeers();
    const up = (r: string | null) => r !== null && (r === this.self || live.includes(r));
    if (loc.primary === this.self) {
      if (!this.map.has(id, this.o.now())) return; // expired: the sweep ends it
      if (up(loc.backup)) return;
      const next = chooseBackup(id, live);
      if (next !== loc.backup) void this.relocate(id, next, 'rebackups');
    } else if (loc.backup === this.self) {
      if (!up(loc.primary) && this.map.has(id, this.o.now())) void this.promote(id, loc);
    } else if (!up(loc.primary) && !up(loc.backup)) {
      // Primary and backup both gone: nobody holds a copy any more.
      this.locs.delete(id);
      this.stats.lost++;
    }
  }

  /**
   * A planned leave (scale-in, a graceful stop), before the channel closes: each session this
   * replica holds a copy of gets its two copies on the others first. Tomcat re-backs up only once
   * a member has gone, and until then the session has one copy; a leave that is planned can keep
   * two at every moment. The other holder of each session does it (`rehome`), as every change of
   * location here is made by the replica it names primary, which holds the value: as backup, it
   * becomes primary; as primary, it picks a new backup; either way not this one. Where the other
   * holder is gone, this replica's copy is the last: it goes to two others. Resolves, with the
   * number of sessions handed on, once every copy is acknowledged (or its wait timed out).
   */
  async leave(): Promise<number> {
    const live = this.link.livePeers();
    if (!this.ready || live.length === 0) return 0;
    this.leaving = true;
    const now = this.o.now();
    const byPartner = new Map<string, string[]>();
    const orphans: string[] = [];
    for (const [id, loc] of this.locs) {
      if (!this.map.has(id, now) || (loc.primary !== this.self && loc.backup !== this.self))
        continue;
      const partner = loc.primary === this.self ? loc.backup : loc.primary;
      if (partner === null || !live.includes(partner)) orphans.push(id);
      else if (byPartner.has(partner)) byPartner.get(partner)!.push(id);
      else byPartner.set(partner, [id]);
    }
    // The orphans first: their last copy is here, and nothing repairs them once it is gone.
    await Promise.all(orphans.map((id) => this.handOnLast(id, this.link.livePeers())));
    // Then small pages, one at a time per partner: each page is a burst of copies on the
    // partner's main thread, and between pages it answers the reads it serves (pages of 1,000
    // at once stalled a partner past the fetch timeout of the replicas reading from it). Within
    // one budget: what is left then has its other copy on the partner, which re-backs it up once
    // this replica is gone, as after a crash.
    const deadline = this.o.now() + (this.o.leaveBudgetMs ?? LEAVE_BUDGET_MS);
    await Promise.all(
      [...byPartner].map(async ([partner, ids]) => {
        for (let i = 0; i < ids.length; i += HANDOVER_PAGE) {
          const left = deadline - this.o.now();
          if (left <= 0) {
            this.o.log(
              'warn',
              'leaving: hand-over budget spent; the partner re-backs up the rest',
              {
                partner,
                sessions: ids.length - i,
              },
            );
            return;
          }
          await this.askRehome(partner, ids.slice(i, i + HANDOVER_PAGE), left);
        }
      }),
    );
    const handed = orphans.length + [...byPartner.values()].reduce((n, ids) => n + ids.length, 0);
    this.stats.handedOn += handed;
    return handed;
  }

  /**
   * Asks `partner` to rehome `ids`; a partner that is leaving too (or does not answer) leaves
   * this replica's copies as the last ones: they go to two others.
   */
  private async askRehome(partner: string, ids: string[], budgetMs: number): Promise<void> {
    this.count('rehome', 1);
    const reply = await this.link
      .request(partner, { t: 'rehome', ids }, Math.min(this.o.requestTimeoutMs, budgetMs))
      .catch(() => ({ refused: true }));
    if ((reply as { refused?: boolean } | null)?.refused) {
      const others = this.link.livePeers().filter((p) => p !== partner);
      await Promise.all(ids.map((id) => this.handOnLast(id, others)));
    }
  }

  /**
   * This replica's copy is the last: a new primary and backup among `candidates` get it, and
   * every live peer learns the new location (a partner that timed out may have acted after all).
   */
  private async handOnLast(id: string, candidates: string[]): Promise<void> {
    const item = this.map.itemOf(id, this.o.now());
    if (!item || candidates.length === 0) return;
    const primary = chooseBackup(id, candidates)!;
    const backup = chooseBackup(
      id,
      candidates.filter((p) => p !== primary),
    );
    const next: Location = { primary, backup, v: this.clock.tick() };
    this.locs.set(id, next);
    this.sendLoc(
      this.link.livePeers().filter((p) => p !== primary && p !== backup),
      [{ id, loc: next }],
    );
    const copies: Array<Promise<void>> = [];
    for (const to of [primary, backup]) if (to) copies.push(this.sendCopy(to, item, next));
    await Promise.all(copies);
  }

  /**
   * `leaver` is going: each session it shares with this replica gets a new partner without it.
   * This replica names itself primary (it holds the value, with every acknowledged write) and a
   * new backup gets the copy; resolved once that is acknowledged.
   */
  private async rehome(leaver: string, ids: string[]): Promise<{ refused: true } | null> {
    if (this.leaving) return { refused: true }; // leaving too: the asker's copy must go elsewhere
    const others = this.link.livePeers().filter((p) => p !== leaver);
    const now = this.o.now();
    const moved: Array<{ id: string; loc: Location; item: Item | undefined }> = [];
    for (const id of ids) {
      const loc = this.locs.get(id);
      const role = this.roleOf(id);
      if (!loc || !this.map.has(id, now) || (role !== 'primary' && role !== 'backup')) continue;
      if (role === 'primary' && loc.backup !== leaver) continue; // re-backed up already
      if (role === 'backup' && loc.primary !== leaver) continue; // another took it over meanwhile
      const reason = role === 'primary' ? 'rebackups' : 'promotions';
      moved.push({ id, ...this.claim(id, chooseBackup(id, others), reason) });
    }
    // Each peer learns the page's new locations in one message; a new backup, with its copy.
    for (const peer of this.link.livePeers()) {
      const entries = moved
        .filter((m) => m.loc.backup !== peer)
        .map(({ id, loc }) => ({ id, loc }));
      if (entries.length) this.sendLoc([peer], entries);
    }
    await Promise.all(
      moved.flatMap(({ loc, item }) =>
        loc.backup && item ? [this.sendCopy(loc.backup, item, loc)] : [],
      ),
    );
    return null;
  }

  /** This backup holder becomes primary and picks a new backup (not the old primary if it can). */
  private promote(id: string, loc: Location): Promise<void> {
    const live = this.link.livePeers();
    const others = live.filter((p) => p !== loc.primary);
    return this.relocate(id, chooseBackup(id, others.length ? others : live), 'promotions');
  }

  /** This replica is primary with `backup`: a copy to the backup, the location to the rest. */
  private async relocate(
    id: string,
    backup: string | null,
    reason: 'promotions' | 'rebackups',
  ): Promise<void> {
    const { loc, item } = this.claim(id, backup, reason);
    this.sendLoc(
      this.link.livePeers().filter((p) => p !== backup),
      [{ id, loc }],
    );
    if (backup && item) await this.sendCopy(backup, item, loc);
  }

  /** This replica names itself primary with `backup`; the copy and locations are the caller's. */
  private claim(
    id: string,
    backup: string | null,
    reason: 'promotions' | 'rebackups',
  ): { loc: Location; item: Item | undefined } {
    const loc: Location = { primary: this.self, backup, v: this.clock.tick() };
    this.locs.set(id, loc);
    this.stats[reason]++;
    return { loc, item: this.map.itemOf(id, this.o.now()) };
  }

  // --- incoming ------------------------------------------------------------------------------------

  private receive(from: string, raw: unknown): unknown {
    const parsed = backupBodySchema.safeParse(raw);
    if (!parsed.success) {
      this.rejections.refused(from, 'bad message body');
      throw new Error('bad message body');
    }
    const body = parsed.data;
    const now = this.o.now();
    switch (body.t) {
      case 'copy': {
        const id = body.item.id;
        if (this.tellGone(from, [id])) return null;
        this.mergeLoc(id, body.loc);
        const role = this.roleOf(id);
        if (role === 'primary' || role === 'backup') {
          this.seeItem(body.item);
          const had = this.map.itemOf(id, now);
          const news = this.map.merge(body.item, now);
          this.reconcile(from, id, had, body.item, news);
          this.repair(id); // e.g. a copy from a primary that died meanwhile: promote
        }
        return null;
      }
      case 'delta':
      case 'accessed':
        for (const item of body.items) {
          this.seeItem(item);
          // Merged even where the location says "proxy": the sender may know a newer location
          // that names this replica backup (its copy still on the way). Without a copy the
          // fields make no session (a read needs the creation), and a newer location that names
          // others releases them. What told nothing new was passed on when it first came.
          if (this.map.merge(item, now)) this.forward(from, body.t, item);
        }
        return null;
      case 'loc':
        for (const e of body.entries) this.mergeLoc(e.id, e.loc);
        this.tellGone(
          from,
          body.entries.map((e) => e.id),
        );
        return null;
      case 'gone':
        for (const item of body.items) {
          // A holder passes the end on to the other holder: if the replica that ended the
          // session crashed before telling every peer, the copy there would live on alone. The
          // primary passes it to every peer: it gives its location to replicas that join, and one
          // may have joined after the replica that ended it told the others.
          const loc = this.locs.get(item.id);
          this.applyGone(item);
          if (!loc || (loc.primary !== this.self && loc.backup !== this.self)) continue;
          const to =
            loc.primary === this.self
              ? this.link.livePeers().filter((p) => p !== from)
              : [loc.primary].filter((p) => p !== from);
          if (to.length) {
            this.count('gone', to.length);
            this.link.send(to, { t: 'gone', items: [item] });
          }
        }
        return null;
      case 'take':
        return this.handOver(from, body.id);
      case 'rehome':
        return this.rehome(from, body.ids);
      case 'locations':
        return this.locationsPage(body.after);
      case 'list':
        return this.heldOf(body.user).slice(0, PAGE_SIZE);
      case 'attempts':
        this.attempts.merge(body.state);
        return null;
    }
  }

  /**
   * A write from a replica that is no longer the primary (it served a request while another one
   * took the session over): passed on to the holders, so both copies end up with it (merging is
   * a join, so no order matters). The sender too, when it is a holder: it may have dropped its
   * copy meanwhile (a location that named others) and be about to receive a new one taken before
   * this write (a re-backup). An echo goes no further than where it tells nothing new.
   */
  private forward(from: string, type: 'delta' | 'accessed', item: Item): void {
    const loc = this.locs.get(item.id);
    if (!loc || loc.primary === from) return;
    for (const holder of [loc.primary, loc.backup])
      if (holder && holder !== this.self) {
        this.count('forwarded', 1);
        this.link.send(holder, { t: type, items: [item] });
      }
  }

  /**
   * After a copy was merged here (sent, or handed over to a take): the two holders must end up
   * alike. Two replicas may each have made themselves primary of one session at once (a proxy
   * took it over from the backup while the old primary, not yet told, wrote and re-backed up when
   * that backup died), each sending its own copy to the same new backup; the location with the
   * newer version wins, and the loser releases its copy — with a write the winner never saw. So:
   * a copy that brought news from a replica that is not the other holder goes on to the other
   * holder; a copy from the other holder that lacks what this copy had goes back to it, with
   * what was here.
   */
  private reconcile(from: string, id: string, had: Item | undefined, got: Item, news: boolean) {
    const loc = this.locs.get(id);
    const other = loc?.primary === this.self ? loc.backup : loc?.primary;
    if (!other || other === this.self) return;
    const tell = other === from ? had !== undefined && knowsMore(had, got, this.o.now()) : news;
    const merged = this.map.itemOf(id, this.o.now());
    if (!tell || !merged || 'gone' in merged) return;
    // The fields only: were the other no longer a holder when it comes, no copy is made there.
    const item: Item = { id, fields: merged.fields, expiresAt: merged.expiresAt };
    this.count('forwarded', 1);
    this.link.send(other, { t: 'delta', items: [item] });
  }

  /**
   * A proxy holder takes the session over: it becomes primary, this replica its backup (whether
   * it was the backup or the primary); the copy goes with the new location.
   */
  private handOver(to: string, id: string): { item: Item; loc: Location } | null {
    const item = this.map.itemOf(id, this.o.now());
    const role = this.roleOf(id);
    // A request from a replica already seen to be gone is not answered with a session.
    if (!item || (role !== 'primary' && role !== 'backup') || !this.link.livePeers().includes(to))
      return null;
    const loc: Location = { primary: to, backup: this.self, v: this.clock.tick() };
    this.locs.set(id, loc);
    this.touched.delete(id);
    this.stats.handovers++;
    return { item, loc };
  }

  private locationsPage(after: string | null): LocationsPage {
    const ids = [...this.locs.keys()].filter((id) => after === null || id > after).sort();
    const page = ids.slice(0, PAGE_SIZE);
    const first = after === null;
    return {
      entries: page.map((id) => ({ id, loc: this.locs.get(id)! })),
      gone: first ? [...this.map.tombstoneItems()].slice(0, PAGE_SIZE) : [],
      attempts: first ? this.attempts.all().slice(0, PAGE_SIZE) : [],
      next: ids.length > PAGE_SIZE ? page.at(-1)! : null,
    };
  }

  /**
   * A peer that sent a copy or a location of sessions that ended here did not get their end (a
   * destroy whose replica crashed before every peer had it): they end there too. True if any did.
   */
  private tellGone(to: string, ids: string[]): boolean {
    const items = ids.map((id) => this.map.tombstoneOf(id)).filter((t) => t !== undefined);
    if (items.length === 0) return false;
    this.count('gone', 1);
    this.link.send(to, { t: 'gone', items });
    return true;
  }

  /** Takes a location if it is newer; a replica that is no longer a holder drops its copy. */
  private mergeLoc(id: string, loc: Location): boolean {
    if (this.map.isGone(id)) return false;
    this.clock.see(loc.v);
    const current = this.locs.get(id);
    if (current && !newer(loc.v, current.v)) return false;
    this.locs.set(id, loc);
    // A leaving replica keeps its copy until it has gone: until then it is one of the two.
    if (loc.primary !== this.self && loc.backup !== this.self && !this.leaving) {
      this.map.release(id);
      this.touched.delete(id);
    }
    this.repair(id);
    return true;
  }

  private applyGone(item: Item): void {
    if (!('gone' in item)) return;
    this.clock.see(item.gone);
    this.map.merge(item, this.o.now());
    this.locs.delete(item.id);
    this.touched.delete(item.id);
  }

  private seeItem(item: Item): void {
    if ('gone' in item) return this.clock.see(item.gone);
    if (item.created) this.clock.see(item.created);
    for (const [, v] of Object.values(item.fields)) this.clock.see(v);
  }

  // --- sending -------------------------------------------------------------------------------------

  private sendCopy(to: string, item: Item, loc: Location): Promise<void> {
    return this.ask(to, { t: 'copy', item, loc }, 'copy');
  }

  private sendLoc(peers: string[], entries: Located[]): void {
    this.count('loc', peers.length);
    for (const p of peers) this.link.send(p, { t: 'loc', entries });
  }

  /** A message that waits for the receiver's acknowledgement, bounded; a timeout is counted. */
  private async ask(to: string, body: BackupBody, type: string): Promise<void> {
    this.count(type, 1);
    try {
      await this.link.request(to, body, this.o.ackTimeoutMs);
    } catch (err) {
      this.stats.ackTimeouts++;
      this.o.log('warn', 'a peer did not acknowledge in time', {
        peer: to,
        message: type,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private count(type: string, n: number): void {
    this.stats.sent[type] = (this.stats.sent[type] ?? 0) + n;
  }
}

/** Whether `mine` has something `theirs` lacks (a field, a newer version of one). */
function knowsMore(mine: Item, theirs: Item, now: number): boolean {
  const probe = new SessionMap();
  probe.merge(theirs, now);
  return probe.merge(mine, now);
}
