import type { Item } from '../messages.js';
import { errorText } from '../replica.js';
import { takeReplySchema, type Location } from './messages.js';
import type { Repair } from './repair.js';
import { HoldersUnavailable, type BackupContext } from './types.js';

/**
 * The read path: a replica that is not the session's primary becomes it. The backup holder
 * (nginx failed its client over there: scenario 1) promotes itself; a proxy holder (scenario 2)
 * asks a holder for the copy (`take`): the holder hands it over and stays backup, the proxy
 * holder becomes primary and tells everyone else.
 */
export class Takeover {
  /** Fetches under way, one per session however many requests wait for it. */
  private readonly taking = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly c: BackupContext,
    private readonly repair: Repair,
  ) {}

  /**
   * The session's JSON as this replica serves it (see BackupManager.read): its own copy when it
   * is the primary, after a promotion or a take otherwise.
   */
  read(id: string): string | undefined | Promise<string | undefined> {
    const { r, o } = this.c;
    const now = o.now();
    const loc = this.c.locs.get(id);
    if (!loc || loc.primary === r.self) return r.map.read(id, now);
    let pending = this.taking.get(id);
    if (!pending) {
      const work =
        loc.backup === r.self && r.map.has(id, now)
          ? this.repair.promote(id, loc).then(() => r.map.read(id, o.now()))
          : this.take(id, loc);
      pending = work.finally(() => this.taking.delete(id));
      this.taking.set(id, pending);
    }
    return pending;
  }

  private async take(id: string, loc: Location): Promise<string | undefined> {
    const { r, o, stats } = this.c;
    const live = r.link.livePeers();
    const holders = [loc.backup, loc.primary].filter(
      (h): h is string => h !== null && h !== r.self && live.includes(h),
    );
    const deadline = o.now() + o.fetchTimeoutMs;
    let failed: unknown;
    for (const holder of holders) {
      const left = deadline - o.now();
      if (left <= 0) break;
      r.count('take', 1);
      let reply;
      try {
        reply = takeReplySchema.parse(await r.link.request(holder, { t: 'take', id }, left));
      } catch (err) {
        failed = err;
        stats.fetchFailures++;
        o.log('warn', 'fetching a session from its holder failed', {
          holder,
          error: errorText(err),
        });
        continue;
      }
      if (!reply) continue;
      const now = o.now();
      this.c.locs.merge(id, reply.loc);
      if (this.c.locs.get(id)?.primary !== r.self) return r.map.read(id, now);
      this.c.copies.mergeCopy(holder, id, reply.item, now);
      stats.takeovers++;
      // Everyone else learns the new location; the old primary, if it lives, keeps a proxy.
      this.c.copies.sendLoc(
        r.link.livePeers().filter((p) => p !== holder),
        [{ id, loc: reply.loc }],
      );
      return r.map.read(id, now);
    }
    if (failed !== undefined)
      throw new HoldersUnavailable(
        `the session's copies did not answer within ${o.fetchTimeoutMs} ms`,
      );
    return undefined;
  }

  /**
   * A proxy holder takes the session over (answering its `take`): it becomes primary, this
   * replica its backup (whether it was the backup or the primary); the copy goes with the new
   * location. Accesses batched here for the old backup are dropped: the new primary sends its own.
   */
  handOver(
    to: string,
    id: string,
    touched: Map<string, Item>,
  ): { item: Item; loc: Location } | null {
    const { r, o } = this.c;
    const item = r.map.itemOf(id, o.now());
    const role = this.c.locs.roleOf(id);
    // A request from a replica already seen to be gone is not answered with a session.
    if (!item || (role !== 'primary' && role !== 'backup') || !r.link.livePeers().includes(to))
      return null;
    const loc: Location = { primary: to, backup: r.self, v: r.clock.tick() };
    this.c.locs.set(id, loc);
    touched.delete(id);
    this.c.stats.handovers++;
    return { item, loc };
  }
}
