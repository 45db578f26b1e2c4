import type { Item } from '../messages.js';
import type { Replica } from '../replica.js';
import { newer } from '../version.js';
import { PAGE_SIZE, type Located, type Location, type LocationsPage } from './messages.js';
import type { Role } from './types.js';

/**
 * Where each session's copies are, as this replica knows it: the primary and the backup (a
 * proxy holds only this). Locations are versioned with the hybrid clock, so the newest wins
 * everywhere, in any order; a tombstone removes the location and beats any late one. A replica
 * that a newer location no longer names holder drops its copy (unless it is leaving: until it
 * has gone it is still one of the two).
 */
export class Locations {
  private readonly locs = new Map<string, Location>();
  /** Called after a location changed here: the manager puts the session right (see Repair). */
  onChange: (id: string) => void = () => undefined;

  constructor(
    private readonly r: Replica,
    /** Accesses batched for the backup (a copy released here sends none). */
    private readonly touched: Map<string, Item>,
    private readonly leaving: () => boolean,
  ) {}

  get(id: string): Location | undefined {
    return this.locs.get(id);
  }

  has(id: string): boolean {
    return this.locs.has(id);
  }

  get size(): number {
    return this.locs.size;
  }

  /** A location this replica decides (it names itself, or hands its copy on). */
  set(id: string, loc: Location): void {
    this.locs.set(id, loc);
  }

  delete(id: string): void {
    this.locs.delete(id);
  }

  ids(): string[] {
    return [...this.locs.keys()];
  }

  entries(): IterableIterator<[string, Location]> {
    return this.locs.entries();
  }

  roleOf(id: string): Role | undefined {
    const loc = this.locs.get(id);
    return loc && roleIn(loc, this.r.self);
  }

  /** Sessions by this replica's role in them (copies that expired here not counted). */
  held(now: number): Record<Role, number> {
    const out: Record<Role, number> = { primary: 0, backup: 0, proxy: 0 };
    for (const [id, loc] of this.locs) {
      const role = roleIn(loc, this.r.self);
      if (role === 'proxy' || this.r.map.has(id, now)) out[role]++;
    }
    return out;
  }

  /** The sessions this replica is primary of: it gives their locations to a newcomer. */
  primaryOf(): Located[] {
    const mine: Located[] = [];
    for (const [id, loc] of this.locs) if (loc.primary === this.r.self) mine.push({ id, loc });
    return mine;
  }

  /** Takes a location if it is newer; a replica that is no longer a holder drops its copy. */
  merge(id: string, loc: Location): boolean {
    if (this.r.map.isGone(id)) return false;
    this.r.clock.see(loc.v);
    const current = this.locs.get(id);
    if (current && !newer(loc.v, current.v)) return false;
    this.locs.set(id, loc);
    // A leaving replica keeps its copy until it has gone: until then it is one of the two.
    if (loc.primary !== this.r.self && loc.backup !== this.r.self && !this.leaving()) {
      this.r.map.release(id);
      this.touched.delete(id);
    }
    this.onChange(id);
    return true;
  }

  /** A tombstone: the session ends here, its location with it. */
  applyGone(item: Item): void {
    if (!('gone' in item)) return;
    this.r.clock.see(item.gone);
    this.r.map.merge(item, this.r.o.now());
    this.locs.delete(item.id);
    this.touched.delete(item.id);
  }

  /** One page of the state a starting replica copies: locations, and tombstones and attempts first. */
  page(after: string | null): LocationsPage {
    const rest = [...this.locs]
      .filter(([id]) => after === null || id > after)
      .sort(([a], [b]) => (a < b ? -1 : 1)); // by id, each id once
    const page = rest.slice(0, PAGE_SIZE);
    const last = page.at(-1);
    const first = after === null;
    return {
      entries: page.map(([id, loc]) => ({ id, loc })),
      gone: first ? [...this.r.map.tombstoneItems()].slice(0, PAGE_SIZE) : [],
      attempts: first ? this.r.attempts.all().slice(0, PAGE_SIZE) : [],
      next: rest.length > PAGE_SIZE && last ? last[0] : null,
    };
  }
}

export function roleIn(loc: Location, self: string): Role {
  return loc.primary === self ? 'primary' : loc.backup === self ? 'backup' : 'proxy';
}
