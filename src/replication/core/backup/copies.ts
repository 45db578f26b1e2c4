import type { Item } from '../messages.js';
import { errorText, type Replica } from '../replica.js';
import { SessionMap } from '../session-map.js';
import type { Locations } from './locations.js';
import type { BackupBody, Located, Location } from './messages.js';
import type { BackupOptions, BackupStats } from './types.js';

/**
 * Getting copies and locations to the other replicas, and keeping a session's two copies alike.
 * Copies wait for the receiver's acknowledgement (bounded, a timeout counted); locations and
 * tombstones are fire and forget. Values merge per field as in `replicated`.
 */
export class Copies {
  constructor(
    private readonly r: Replica,
    private readonly o: BackupOptions,
    private readonly locs: Locations,
    private readonly stats: BackupStats,
  ) {}

  async sendCopy(to: string, item: Item, loc: Location): Promise<void> {
    await this.ask(to, { t: 'copy', item, loc }, 'copy');
  }

  sendLoc(peers: string[], entries: Located[]): void {
    this.r.count('loc', peers.length);
    for (const p of peers) this.r.link.send(p, { t: 'loc', entries });
  }

  /**
   * A message that waits for the receiver's acknowledgement, bounded; a timeout is counted.
   * Resolves with whether it was acknowledged.
   */
  async ask(to: string, body: BackupBody, type: string): Promise<boolean> {
    this.r.count(type, 1);
    try {
      await this.r.link.request(to, body, this.o.ackTimeoutMs);
      return true;
    } catch (err) {
      this.stats.ackTimeouts++;
      this.o.log('warn', 'a peer did not acknowledge in time', {
        peer: to,
        message: type,
        error: errorText(err),
      });
      return false;
    }
  }

  /** A copy from `from` (sent, or handed over to a take) merged here, and the holders reconciled. */
  mergeCopy(from: string, id: string, item: Item, now: number): void {
    this.r.see(item);
    const news = this.r.map.merge(item, now);
    this.reconcile(from, id, item, news);
  }

  /**
   * A peer that sent a copy or a location of sessions that ended here did not get their end (a
   * destroy whose replica crashed before every peer had it): they end there too. True if any did.
   */
  tellGone(to: string, ids: string[]): boolean {
    const items = ids.map((id) => this.r.map.tombstoneOf(id)).filter((t) => t !== undefined);
    if (items.length === 0) return false;
    this.r.count('gone', 1);
    this.r.link.send(to, { t: 'gone', items });
    return true;
  }

  /**
   * A write from a replica that is no longer the primary (it served a request while another one
   * took the session over): passed on to the holders, so both copies end up with it (merging is
   * a join, so no order matters). The sender too, when it is a holder: it may have dropped its
   * copy meanwhile (a location that named others) and be about to receive a new one taken before
   * this write (a re-backup). An echo goes no further than where it tells nothing new.
   */
  forward(from: string, type: 'delta' | 'accessed', item: Item): void {
    const loc = this.locs.get(item.id);
    if (!loc || loc.primary === from) return;
    for (const holder of [loc.primary, loc.backup])
      if (holder && holder !== this.r.self) {
        this.r.count('forwarded', 1);
        this.r.link.send(holder, { t: type, items: [item] });
      }
  }

  /**
   * After a copy was merged here (sent, or handed over to a take): the two holders must end up
   * alike. Two replicas may each have made themselves primary of one session at once (a proxy
   * took it over from the backup while the old primary, not yet told, wrote and re-backed up when
   * that backup died), each sending its own copy to the same new backup; the location with the
   * newer version wins, and the loser releases its copy — with a write the winner never saw. Or a
   * leaving replica hands its copy, taken before a write of the primary reached it, to the primary
   * and a new backup at once. Or a write forwarded here before the copy came (as a proxy, whose
   * fields wait for a copy to join). So: a copy that brought news from a replica that is not the
   * other holder goes on to the other holder; a copy (from anyone) that lacks what this replica
   * now holds goes to the other holder too, with what is here: the other may have got the same
   * copy, or be the one that sent it.
   */
  private reconcile(from: string, id: string, got: Item, news: boolean) {
    const loc = this.locs.get(id);
    const other = loc?.primary === this.r.self ? loc.backup : loc?.primary;
    if (!other || other === this.r.self) return;
    const now = this.o.now();
    const merged = this.r.map.itemOf(id, now);
    if (!merged || 'gone' in merged) return;
    if (!(other !== from && news) && !knowsMore(merged, got, now)) return;
    // The fields only: were the other no longer a holder when it comes, no copy is made there.
    const item: Item = { id, fields: merged.fields, expiresAt: merged.expiresAt };
    this.r.count('forwarded', 1);
    this.r.link.send(other, { t: 'delta', items: [item] });
  }
}

/** Whether `mine` has something `theirs` lacks (a field, a newer version of one). */
function knowsMore(mine: Item, theirs: Item, now: number): boolean {
  const probe = new SessionMap();
  probe.merge(theirs, now);
  return probe.merge(mine, now);
}
