import type { Item } from '../messages.js';
import type { PeerLink } from '../peer-link.js';
import { mergeTouch, Replica, type SessionCopies } from '../replica.js';
import { Copies } from './copies.js';
import { Incoming } from './incoming.js';
import { Leave } from './leave.js';
import { Locations } from './locations.js';
import {
  backupBeaconSchema,
  listReplySchema,
  locationsPageSchema,
  PAGE_SIZE,
  type BackupBody,
  type Location,
  type LocationsPage,
} from './messages.js';
import { chooseBackup } from './placement.js';
import { Repair } from './repair.js';
import { Takeover } from './takeover.js';
import type { BackupContext, BackupOptions, BackupStats, Role } from './types.js';

export { HoldersUnavailable } from './types.js';

/** Rounds of telling the peers of a destroy at most (see destroy). */
const DESTROY_ROUNDS = 5;
export type { BackupOptions, BackupStats, Role } from './types.js';

/**
 * Tomcat's BackupManager (LazyReplicatedMap) over a PeerLink. Per session: the primary serves it
 * and holds it; one backup, chosen by rendezvous hashing over the live members, holds a full
 * copy and receives every change; every other replica holds a proxy — the location, no value.
 *
 * - A write sends the changed fields to the backup only; creation and destruction (and every
 *   change of location) reach the proxies.
 * - A read on a replica that is not the primary makes it the primary (takeover.ts).
 * - A member joining or leaving: the locations put right (repair.ts); a planned leave hands its
 *   copies on first (leave.ts).
 * - A joining replica receives the locations (proxies), not the values.
 *
 * Locations are versioned with the hybrid clock (the newest wins everywhere, in any order),
 * values merge per field as in `replicated`, and a destroy leaves a tombstone on every replica
 * that beats any late copy, delta or location (locations.ts, copies.ts).
 */
export class BackupManager implements SessionCopies {
  readonly stats: BackupStats;
  private readonly r: Replica;
  private readonly c: BackupContext;
  private readonly beacons = new Map<string, { ready: boolean }>();
  /** Accesses batched for each session's backup (see flushAccesses). */
  private readonly touched = new Map<string, Item>();
  private readonly repair: Repair;
  private readonly takeover: Takeover;
  private readonly leaving: Leave;

  constructor(
    private readonly link: PeerLink,
    private readonly o: BackupOptions,
  ) {
    const r = (this.r = new Replica(link, o));
    this.stats = {
      sent: r.sent,
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
    const locs = new Locations(r, this.touched, () => this.c.phase === 'leaving');
    const c: BackupContext = (this.c = {
      r,
      o,
      stats: this.stats,
      locs,
      copies: new Copies(r, o, locs, this.stats),
      phase: 'starting',
    });
    this.repair = new Repair(c);
    locs.onChange = (id) => {
      this.repair.one(id);
    };
    this.takeover = new Takeover(c, this.repair);
    this.leaving = new Leave(c, this.repair);
    const incoming = new Incoming(c, {
      repair: this.repair,
      takeover: this.takeover,
      leave: this.leaving,
      touched: this.touched,
      heldOf: (user) => this.heldOf(user),
    });
    link.setBeacon(() => ({ ready: this.ready }));
    link.listen({
      message: (from, body) => incoming.receive(from, body),
      beacon: (from, raw) => {
        const parsed = backupBeaconSchema.safeParse(raw);
        if (parsed.success) this.beacons.set(from, parsed.data);
        else r.rejections.refused(from, 'bad beacon');
      },
      peerDown: (peer) => {
        this.beacons.delete(peer);
        this.repair.all();
      },
      peerUp: (peer) => {
        this.repair.pushLocations(peer);
        this.repair.all();
      },
    });
  }

  /** This replica's copies (as primary or backup). */
  get map() {
    return this.r.map;
  }

  /** False while the locations are copied from a peer: readiness reports "starting". */
  get ready(): boolean {
    return this.c.phase !== 'starting';
  }

  get self(): string {
    return this.link.self;
  }

  // --- start: the locations, not the values ------------------------------------------------------

  async start(): Promise<void> {
    const inTime = await this.r.copyFromPeer(
      (p) => this.beacons.get(p),
      (donor) => this.copyLocations(donor),
    );
    if (!inTime) this.o.log('warn', 'location transfer timed out: ready with what has arrived');
    this.c.phase = 'serving';
    this.repair.all();
    this.o.log('log', 'backup manager ready', {
      locations: this.c.locs.size,
      transferred: this.stats.transferred,
    });
  }

  private async copyLocations(donor: string): Promise<void> {
    let after: string | null = null;
    do {
      const page: LocationsPage = locationsPageSchema.parse(
        await this.link.request(donor, { t: 'locations', after }, this.o.requestTimeoutMs),
      );
      for (const item of page.gone) this.c.locs.applyGone(item);
      for (const e of page.entries) this.c.locs.merge(e.id, e.loc);
      for (const state of page.attempts) this.r.attempts.merge(state);
      this.stats.transferred += page.entries.length;
      after = page.next;
    } while (after !== null);
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
    return this.takeover.read(id);
  }

  roleOf(id: string): Role | undefined {
    return this.c.locs.roleOf(id);
  }

  locationOf(id: string): Location | undefined {
    return this.c.locs.get(id);
  }

  /** Sessions by this replica's role in them. */
  held(): Record<Role, number> {
    return this.c.locs.held(this.o.now());
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
    return this.c.locs.has(id);
  }

  // --- writes --------------------------------------------------------------------------------------

  /** Applies what peers have sent and this thread not yet taken (see PeerLink.drain). */
  catchUp(): void {
    this.r.catchUp();
  }

  /** A new session: a full copy to its backup, its location to every other replica. */
  async create(id: string, fields: Record<string, string>, expiresAt: number): Promise<void> {
    this.catchUp();
    const item = this.r.created(id, fields, expiresAt);
    this.map.merge(item, this.o.now());
    const live = this.link.livePeers();
    const loc: Location = {
      primary: this.self,
      backup: chooseBackup(id, live),
      v: this.r.clock.tick(),
    };
    this.c.locs.set(id, loc);
    this.c.copies.sendLoc(
      live.filter((p) => p !== loc.backup),
      [{ id, loc }],
    );
    if (loc.backup) await this.c.copies.sendCopy(loc.backup, item, loc);
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
    const item = this.r.changed(id, changed, expiresAt);
    this.map.merge(item, now);
    const loc = this.c.locs.get(id);
    // To the other holder: the backup; or, when another replica took the session over while
    // this request ran here (this replica now its backup), to the new primary.
    const other = loc?.primary === this.self ? loc.backup : loc?.primary;
    if (!other) return true;
    if (touchOnly && loc?.primary === this.self)
      this.touched.set(id, mergeTouch(this.touched.get(id), item));
    else await this.c.copies.ask(other, { t: 'delta', items: [item] }, 'delta');
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
    const loc = this.c.locs.get(id);
    if (!loc || loc.primary === this.self || loc.backup === this.self) return false;
    const item = this.r.changed(id, changed, expiresAt);
    await this.c.copies.ask(loc.primary, { t: 'delta', items: [item] }, 'delta');
    return true;
  }

  /** Ends sessions everywhere (tombstones, acknowledged by every live peer); how many were known here. */
  async destroy(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    this.catchUp();
    const now = this.o.now();
    let known = 0;
    const items: Item[] = ids.map((id) => {
      if (this.map.has(id, now) || this.c.locs.has(id)) known++;
      const item = this.r.ended(id, now);
      this.c.locs.applyGone(item);
      return item;
    });
    // Peers that come up meanwhile are told too: they may have copied the location first. So is
    // one that went down before it acknowledged and is up again (restarted, it may have copied
    // the location from a peer the end had not reached yet), a few rounds at most.
    const told = new Set<string>();
    let peers = this.link.livePeers();
    for (let round = 0; peers.length > 0 && round < DESTROY_ROUNDS; round++) {
      const acked = await Promise.all(peers.map((p) => this.tellEnd(p, items)));
      peers.forEach((p, i) => acked[i] && told.add(p));
      peers = this.link.livePeers().filter((p) => !told.has(p));
    }
    return known;
  }

  /** Every page of tombstones to `peer`; whether it acknowledged them all. */
  private async tellEnd(peer: string, items: Item[]): Promise<boolean> {
    let acked = true;
    for (let i = 0; i < items.length; i += PAGE_SIZE) {
      const body: BackupBody = { t: 'gone', items: items.slice(i, i + PAGE_SIZE) };
      acked = (await this.c.copies.ask(peer, body, 'gone')) && acked;
    }
    return acked;
  }

  /** Sends the batched accesses, one message per backup however many reads. */
  flushAccesses(): void {
    if (this.touched.size === 0) return;
    const byBackup = new Map<string, Item[]>();
    for (const [id, item] of this.touched) {
      const loc = this.c.locs.get(id);
      if (loc?.primary !== this.self || !loc.backup) continue;
      byBackup.set(loc.backup, [...(byBackup.get(loc.backup) ?? []), item]);
    }
    this.touched.clear();
    for (const [backup, items] of byBackup)
      for (let i = 0; i < items.length; i += PAGE_SIZE) {
        this.r.count('accessed', 1);
        this.link.send(backup, { t: 'accessed', items: items.slice(i, i + PAGE_SIZE) });
      }
  }

  /** Drops expired copies; a primary tells everyone its expired sessions are gone. */
  sweep(): number {
    const now = this.o.now();
    const expired: string[] = [];
    for (const [id, loc] of this.c.locs.entries())
      if (loc.primary === this.self && !this.map.has(id, now)) expired.push(id);
    if (expired.length) void this.destroy(expired);
    return this.map.sweep(now);
  }

  countAttempts(key: string): number {
    return this.r.countAttempts(key);
  }

  /** A login attempt counted on every replica, waiting for the peers (as in `replicated`). */
  changeAttempts(key: string, change: 1 | -1 | 'reset', windowMs = 0): Promise<number> {
    return this.r.changeAttempts(key, change, windowMs, async (state) => {
      await Promise.all(
        this.link
          .livePeers()
          .map((p) => this.c.copies.ask(p, { t: 'attempts', state }, 'attempts')),
      );
    });
  }

  /** A planned leave (scale-in, a graceful stop): every copy held here handed on first (leave.ts). */
  leave(): Promise<number> {
    return this.leaving.leave();
  }
}
