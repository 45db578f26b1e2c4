import type { Item } from '../messages.js';
import { backupBodySchema, PAGE_SIZE } from './messages.js';
import type { Leave } from './leave.js';
import type { Repair } from './repair.js';
import type { Takeover } from './takeover.js';
import type { BackupContext } from './types.js';

/** What the other parts answer for the messages they own. */
export interface IncomingParts {
  repair: Repair;
  takeover: Takeover;
  leave: Leave;
  touched: Map<string, Item>;
  heldOf(userId: string): Array<{ id: string; json: string }>;
}

/**
 * Every message a peer sends the backup manager, checked and applied; for a request, the
 * returned value is the reply.
 */
export class Incoming {
  constructor(
    private readonly c: BackupContext,
    private readonly parts: IncomingParts,
  ) {}

  receive(from: string, raw: unknown): unknown {
    const { r, locs, copies } = this.c;
    const parsed = backupBodySchema.safeParse(raw);
    if (!parsed.success) {
      r.rejections.refused(from, 'bad message body');
      throw new Error('bad message body');
    }
    const body = parsed.data;
    const now = this.c.o.now();
    switch (body.t) {
      case 'copy': {
        const id = body.item.id;
        if (copies.tellGone(from, [id])) return null;
        locs.merge(id, body.loc);
        const role = locs.roleOf(id);
        if (role === 'primary' || role === 'backup') {
          copies.mergeCopy(from, id, body.item, now);
          this.parts.repair.one(id); // e.g. a copy from a primary that died meanwhile: promote
        }
        return null;
      }
      case 'delta':
      case 'accessed':
        for (const item of body.items) {
          r.see(item);
          // Merged even where the location says "proxy": the sender may know a newer location
          // that names this replica backup (its copy still on the way). Without a copy the
          // fields make no session (a read needs the creation), and a newer location that names
          // others releases them. What told nothing new was passed on when it first came.
          if (r.map.merge(item, now)) copies.forward(from, body.t, item);
        }
        return null;
      case 'loc':
        for (const e of body.entries) locs.merge(e.id, e.loc);
        copies.tellGone(
          from,
          body.entries.map((e) => e.id),
        );
        return null;
      case 'gone':
        for (const item of body.items) this.gone(from, item);
        return null;
      case 'take':
        return this.parts.takeover.handOver(from, body.id, this.parts.touched);
      case 'rehome':
        return this.parts.leave.rehome(from, body.ids);
      case 'locations':
        return locs.page(body.after);
      case 'list':
        return this.parts.heldOf(body.user).slice(0, PAGE_SIZE);
      case 'attempts':
        r.attempts.merge(body.state);
        return null;
    }
  }

  /**
   * A holder passes the end on to the other holder: if the replica that ended the session
   * crashed before telling every peer, the copy there would live on alone. The primary passes it
   * to every peer: it gives its location to replicas that join, and one may have joined after
   * the replica that ended it told the others.
   */
  private gone(from: string, item: Item): void {
    const { r, locs } = this.c;
    const loc = locs.get(item.id);
    locs.applyGone(item);
    if (!loc || (loc.primary !== r.self && loc.backup !== r.self)) return;
    const to =
      loc.primary === r.self
        ? r.link.livePeers().filter((p) => p !== from)
        : [loc.primary].filter((p) => p !== from);
    if (to.length) {
      r.count('gone', to.length);
      r.link.send(to, { t: 'gone', items: [item] });
    }
  }
}
