import type { Item } from '../messages.js';
import { chooseBackup } from './placement.js';
import { PAGE_SIZE, type Location } from './messages.js';
import type { BackupContext } from './types.js';

/**
 * Membership changes, as Tomcat's BackupManager meets them: a member joined (it gets the
 * locations of the sessions this replica is primary of); a member left (a primary whose backup
 * left picks a new one; a backup whose primary left promotes itself; a proxy whose primary and
 * backup both left counts the session lost). Every change of location is made by the replica it
 * names primary, which holds the value.
 */
export class Repair {
  constructor(private readonly c: BackupContext) {}

  /**
   * A member joined (or came back): it gets the location of every session this replica is
   * primary of — proxies, no values. Each primary knows its sessions' newest location, so the
   * newcomer ends up with every location even if a transfer page missed a change.
   */
  pushLocations(peer: string): void {
    if (this.c.phase === 'starting') return;
    const mine = this.c.locs.primaryOf();
    for (let i = 0; i < mine.length; i += PAGE_SIZE) {
      this.c.r.count('loc', 1);
      this.c.r.link.send(peer, { t: 'loc', entries: mine.slice(i, i + PAGE_SIZE) });
    }
  }

  /** After a member left or came: every session this replica has a part in, put right. */
  all(): void {
    if (this.c.phase === 'starting') return;
    for (const id of this.c.locs.ids()) this.one(id);
  }

  one(id: string): void {
    const { r, locs } = this.c;
    const loc = locs.get(id);
    if (!loc || this.c.phase !== 'serving') return;
    const live = r.link.livePeers();
    const up = (m: string | null) => m !== null && (m === r.self || live.includes(m));
    if (loc.primary === r.self) {
      if (!r.map.has(id, this.c.o.now())) return; // expired: the sweep ends it
      if (up(loc.backup)) return;
      const next = chooseBackup(id, live);
      if (next !== loc.backup) void this.relocate(id, next, 'rebackups');
    } else if (loc.backup === r.self) {
      if (!up(loc.primary) && r.map.has(id, this.c.o.now())) void this.promote(id, loc);
    } else if (!up(loc.primary) && !up(loc.backup)) {
      // Primary and backup both gone: nobody holds a copy any more.
      locs.delete(id);
      this.c.stats.lost++;
    }
  }

  /** This backup holder becomes primary and picks a new backup (not the old primary if it can). */
  promote(id: string, loc: Location): Promise<void> {
    const live = this.c.r.link.livePeers();
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
    this.c.copies.sendLoc(
      this.c.r.link.livePeers().filter((p) => p !== backup),
      [{ id, loc }],
    );
    if (backup && item) await this.c.copies.sendCopy(backup, item, loc);
  }

  /** This replica names itself primary with `backup`; the copy and locations are the caller's. */
  claim(
    id: string,
    backup: string | null,
    reason: 'promotions' | 'rebackups',
  ): { loc: Location; item: Item | undefined } {
    const loc: Location = { primary: this.c.r.self, backup, v: this.c.r.clock.tick() };
    this.c.locs.set(id, loc);
    this.c.stats[reason]++;
    return { loc, item: this.c.r.map.itemOf(id, this.c.o.now()) };
  }
}
