import type { Item } from '../messages.js';
import type { Location } from './messages.js';
import { chooseBackup } from './placement.js';
import type { Repair } from './repair.js';
import type { BackupContext } from './types.js';

/** Sessions per hand-over request of a leave (see leave). */
const HANDOVER_PAGE = 50;
/** A leave's default budget: well inside the 10 s a stopping replica gets before SIGKILL. */
const LEAVE_BUDGET_MS = 6_000;
/** Rounds of a leave at most (see leave): each hands on the copies that came during the last. */
const MAX_ROUNDS = 5;

/**
 * A planned leave (scale-in, a graceful stop), before the channel closes: each session this
 * replica holds a copy of gets its two copies on the others first. Tomcat re-backs up only once
 * a member has gone, and until then the session has one copy; a leave that is planned can keep
 * two at every moment. The other holder of each session does it (`rehome`), as every change of
 * location here is made by the replica it names primary, which holds the value: as backup, it
 * becomes primary; as primary, it picks a new backup; either way not this one. Where the other
 * holder is gone, this replica's copy is the last: it goes to two others.
 */
export class Leave {
  constructor(
    private readonly c: BackupContext,
    private readonly repair: Repair,
  ) {}

  /**
   * Resolves, with the number of sessions handed on, once every copy is acknowledged (or its
   * wait timed out). Copies keep arriving while it leaves (one on its way when the leave began,
   * from a primary that did not know, or given back by a repair elsewhere): each round hands on
   * what the rounds before did not see, or saw under an older location, until one finds nothing
   * new, within one budget (the orphans' hand-over counted in it: all of it must fit before the
   * stopping replica is killed).
   */
  async leave(): Promise<number> {
    const { r, o } = this.c;
    if (this.c.phase !== 'serving' || r.link.livePeers().length === 0) return 0;
    this.c.phase = 'leaving';
    const deadline = o.now() + (o.leaveBudgetMs ?? LEAVE_BUDGET_MS);
    /** Session → its location's version when it was handed on. */
    const handed = new Map<string, string>();
    for (let round = 0; round < MAX_ROUNDS && o.now() < deadline; round++) {
      const { orphans, byPartner } = this.heldHere(handed);
      if (orphans.length === 0 && byPartner.size === 0) break;
      await this.handOn(orphans, byPartner, deadline);
    }
    this.c.stats.handedOn += handed.size;
    return handed.size;
  }

  /**
   * Sessions this replica holds a copy of, not handed on yet under their location now, by the
   * other holder (or none).
   */
  private heldHere(handed: Map<string, string>): {
    orphans: string[];
    byPartner: Map<string, string[]>;
  } {
    const { r, o } = this.c;
    const live = r.link.livePeers();
    const now = o.now();
    const byPartner = new Map<string, string[]>();
    const orphans: string[] = [];
    for (const [id, loc] of this.c.locs.entries()) {
      const at = loc.v.join('@');
      if (handed.get(id) === at || !r.map.has(id, now)) continue;
      if (loc.primary !== r.self && loc.backup !== r.self) continue;
      handed.set(id, at);
      const partner = loc.primary === r.self ? loc.backup : loc.primary;
      if (partner === null || !live.includes(partner)) orphans.push(id);
      else byPartner.set(partner, [...(byPartner.get(partner) ?? []), id]);
    }
    return { orphans, byPartner };
  }

  private async handOn(
    orphans: string[],
    byPartner: Map<string, string[]>,
    deadline: number,
  ): Promise<void> {
    const { r, o } = this.c;
    // The orphans first: their last copy is here, and nothing repairs them once it is gone.
    await Promise.all(orphans.map((id) => this.handOnLast(id, r.link.livePeers())));
    // Then small pages, one at a time per partner: each page is a burst of copies on the
    // partner's main thread, and between pages it answers the reads it serves (pages of 1,000
    // at once stalled a partner past the fetch timeout of the replicas reading from it). Within
    // the budget: what is left then has its other copy on the partner, which re-backs it up once
    // this replica is gone, as after a crash.
    await Promise.all(
      [...byPartner].map(async ([partner, ids]) => {
        for (let i = 0; i < ids.length; i += HANDOVER_PAGE) {
          const left = deadline - o.now();
          if (left <= 0) {
            o.log('warn', 'leaving: hand-over budget spent; the partner re-backs up the rest', {
              partner,
              sessions: ids.length - i,
            });
            return;
          }
          await this.askRehome(partner, ids.slice(i, i + HANDOVER_PAGE), left);
        }
      }),
    );
  }

  /**
   * `leaver` is going (answering its `rehome`): each session it shares with this replica gets a
   * new partner without it. This replica names itself primary (it holds the value, with every
   * acknowledged write) and a new backup gets the copy; resolved once that is acknowledged.
   */
  async rehome(leaver: string, ids: string[]): Promise<{ refused: true } | null> {
    const { r, o, locs, copies } = this.c;
    if (this.c.phase === 'leaving') return { refused: true }; // the asker's copy must go elsewhere
    const others = r.link.livePeers().filter((p) => p !== leaver);
    const now = o.now();
    const moved: Array<{ id: string; loc: Location; item: Item | undefined }> = [];
    for (const id of ids) {
      const loc = locs.get(id);
      const role = locs.roleOf(id);
      if (!loc || !r.map.has(id, now) || (role !== 'primary' && role !== 'backup')) continue;
      if (role === 'primary' && loc.backup !== leaver) continue; // re-backed up already
      if (role === 'backup' && loc.primary !== leaver) continue; // another took it over meanwhile
      const reason = role === 'primary' ? 'rebackups' : 'promotions';
      moved.push({ id, ...this.repair.claim(id, chooseBackup(id, others), reason) });
    }
    // Each peer learns the page's new locations in one message; a new backup, with its copy.
    for (const peer of r.link.livePeers()) {
      const entries = moved
        .filter((m) => m.loc.backup !== peer)
        .map(({ id, loc }) => ({ id, loc }));
      if (entries.length) copies.sendLoc([peer], entries);
    }
    await Promise.all(
      moved.flatMap(({ loc, item }) =>
        loc.backup && item ? [copies.sendCopy(loc.backup, item, loc)] : [],
      ),
    );
    return null;
  }

  /**
   * Asks `partner` to rehome `ids`; a partner that is leaving too (or does not answer) leaves
   * this replica's copies as the last ones: they go to two others.
   */
  private async askRehome(partner: string, ids: string[], budgetMs: number): Promise<void> {
    const { r, o } = this.c;
    r.count('rehome', 1);
    const reply = await r.link
      .request(partner, { t: 'rehome', ids }, Math.min(o.requestTimeoutMs, budgetMs))
      .catch(() => ({ refused: true }));
    if ((reply as { refused?: boolean } | null)?.refused) {
      const others = r.link.livePeers().filter((p) => p !== partner);
      await Promise.all(ids.map((id) => this.handOnLast(id, others)));
    }
  }

  /**
   * This replica's copy is the last: a new primary and backup among `candidates` get it, and
   * every live peer learns the new location (a partner that timed out may have acted after all).
   */
  private async handOnLast(id: string, candidates: string[]): Promise<void> {
    const { r, o, locs, copies } = this.c;
    const item = r.map.itemOf(id, o.now());
    const primary = chooseBackup(id, candidates); // null for no candidates
    if (!item || primary === null) return;
    const backup = chooseBackup(
      id,
      candidates.filter((p) => p !== primary),
    );
    const next: Location = { primary, backup, v: r.clock.tick() };
    locs.set(id, next);
    copies.sendLoc(
      r.link.livePeers().filter((p) => p !== primary && p !== backup),
      [{ id, loc: next }],
    );
    const sends: Array<Promise<void>> = [];
    for (const to of [primary, backup]) if (to) sends.push(copies.sendCopy(to, item, next));
    await Promise.all(sends);
  }
}
