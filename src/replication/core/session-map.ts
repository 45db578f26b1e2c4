import { SetDigest } from './digest.js';
import type { Item } from './messages.js';
import { newer, type Version } from './version.js';

/** A deleted top-level field: kept, versioned, so that the deletion wins over older values. */
export const DELETED = '';

interface Entry {
  fields: Map<string, { json: string; version: Version }>;
  /** Set once the session's creation is known: a delta that overtook it makes no session. */
  created?: Version;
  expiresAt: number;
  userId?: string;
}

interface Tombstone {
  version: Version;
  until: number;
}

const tombstoneItem = (id: string, t: Tombstone): Item => ({ id, gone: t.version, until: t.until });

/**
 * Every session of the cluster as this replica knows it, and the one operation that changes it:
 * merge(item). Merging is a join — each top-level field keeps its newest version, expiry its
 * latest time, and a tombstone beats every version of the session — so replicas that merged the
 * same items agree, in whatever order (or how often) the items came. Pure logic: no I/O, no
 * clock of its own (`now` is passed in), which is what lets the model test run it by thousands.
 */
export class SessionMap {
  private readonly entries = new Map<string, Entry>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly fingerprint = new SetDigest();

  /** The session's JSON, if it is alive here. */
  read(id: string, now: number): string | undefined {
    const e = this.live(id, now);
    if (!e) return undefined;
    const parts: string[] = [];
    for (const [name, f] of e.fields)
      if (f.json !== DELETED) parts.push(`${JSON.stringify(name)}:${f.json}`);
    return `{${parts.join(',')}}`;
  }

  has(id: string, now: number): boolean {
    return this.live(id, now) !== undefined;
  }

  isGone(id: string): boolean {
    return this.tombstones.has(id);
  }

  /** Field values as stored (JSON text), for comparing with what a request wants to save. */
  fieldsOf(id: string, now: number): Map<string, string> | undefined {
    const e = this.live(id, now);
    return e && new Map([...e.fields].map(([k, f]) => [k, f.json]));
  }

  idsOf(userId: string, now: number): string[] {
    return [...(this.byUser.get(userId) ?? [])].filter((id) => this.has(id, now));
  }

  /** Live sessions here (visible to requests). */
  size(now: number): number {
    let n = 0;
    for (const id of this.entries.keys()) if (this.has(id, now)) n++;
    return n;
  }

  digest(): string {
    return this.fingerprint.toString();
  }

  /** Everything this replica knows, tombstones included: a state-transfer snapshot. */
  *items(): Generator<Item> {
    yield* this.tombstoneItems();
    for (const [id, e] of this.entries) {
      const fields: Record<string, [string, Version]> = {};
      for (const [name, f] of e.fields) fields[name] = [f.json, f.version];
      yield { id, ...(e.created ? { created: e.created } : {}), fields, expiresAt: e.expiresAt };
    }
  }

  /** One session as an item (every field, with its version), if it is alive here. */
  itemOf(id: string, now: number): Item | undefined {
    const e = this.live(id, now);
    if (!e) return undefined;
    const fields: Record<string, [string, Version]> = {};
    for (const [name, f] of e.fields) fields[name] = [f.json, f.version];
    return { id, ...(e.created ? { created: e.created } : {}), fields, expiresAt: e.expiresAt };
  }

  /** The session's tombstone as an item, if it ended here. */
  tombstoneOf(id: string): Item | undefined {
    const t = this.tombstones.get(id);
    return t && tombstoneItem(id, t);
  }

  /** Tombstones, for a replica that joins (so it too refuses a late copy of an ended session). */
  *tombstoneItems(): Generator<Item> {
    for (const [id, t] of this.tombstones) yield tombstoneItem(id, t);
  }

  /**
   * Forgets the session's value without a tombstone: this replica stops holding a copy (the
   * backup profile's proxy keeps only where the copies are).
   */
  release(id: string): void {
    if (!this.entries.has(id)) return;
    const before = this.summary(id);
    this.drop(id);
    if (before) this.fingerprint.toggle(before);
  }

  /** Joins `item` into the map; false when it told nothing new (older, or already known). */
  merge(item: Item, now: number): boolean {
    const before = this.summary(item.id);
    if ('gone' in item) this.mergeTombstone(item.id, item.gone, item.until, now);
    else this.mergeEntry(item, now);
    const after = this.summary(item.id);
    if (before === after) return false;
    if (before) this.fingerprint.toggle(before);
    if (after) this.fingerprint.toggle(after);
    return true;
  }

  /** Drops expired sessions and tombstones past their time; each replica does so on its own. */
  sweep(now: number): number {
    let removed = 0;
    for (const [id, e] of this.entries) if (e.expiresAt <= now) removed += this.forget(id);
    for (const [id, t] of this.tombstones) if (t.until <= now) removed += this.forget(id);
    return removed;
  }

  private mergeTombstone(id: string, version: Version, until: number, now: number): void {
    const t = this.tombstones.get(id);
    if (!t && until <= now) return;
    if (!t || newer(version, t.version)) {
      this.tombstones.set(id, { version, until: Math.max(until, t?.until ?? 0) });
    } else t.until = Math.max(t.until, until);
    this.drop(id);
  }

  private mergeEntry(item: Extract<Item, { fields: unknown }>, now: number): void {
    if (this.tombstones.has(item.id) || item.expiresAt <= now) return;
    let e = this.entries.get(item.id);
    if (!e) this.entries.set(item.id, (e = { fields: new Map(), expiresAt: 0 }));
    if (item.created && newer(item.created, e.created)) e.created = item.created;
    e.expiresAt = Math.max(e.expiresAt, item.expiresAt);
    for (const [name, [json, version]] of Object.entries(item.fields)) {
      if (newer(version, e.fields.get(name)?.version)) e.fields.set(name, { json, version });
    }
    this.index(item.id, e);
  }

  /** The per-user index follows the `passport` field (who is logged in with this session). */
  private index(id: string, e: Entry): void {
    const passport = e.fields.get('passport')?.json;
    let userId: string | undefined;
    if (passport) {
      const parsed = JSON.parse(passport) as { user?: { id?: unknown } } | null;
      if (typeof parsed?.user?.id === 'string') userId = parsed.user.id;
    }
    if (userId === e.userId) return;
    this.unindex(id, e);
    e.userId = userId;
    if (!userId) return;
    let ids = this.byUser.get(userId);
    if (!ids) this.byUser.set(userId, (ids = new Set()));
    ids.add(id);
  }

  private unindex(id: string, e: Entry): void {
    if (!e.userId) return;
    const ids = this.byUser.get(e.userId);
    ids?.delete(id);
    if (ids?.size === 0) this.byUser.delete(e.userId);
  }

  private live(id: string, now: number): Entry | undefined {
    const e = this.entries.get(id);
    return e?.created && e.expiresAt > now ? e : undefined;
  }

  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.unindex(id, e);
    this.entries.delete(id);
  }

  private forget(id: string): number {
    const before = this.summary(id);
    this.drop(id);
    this.tombstones.delete(id);
    if (before) this.fingerprint.toggle(before);
    return before ? 1 : 0;
  }

  /** What the digest covers: ids, tombstone or creation, and every field's version. */
  private summary(id: string): string | undefined {
    const t = this.tombstones.get(id);
    if (t) return `${id}|gone|${t.version.join(':')}`;
    const e = this.entries.get(id);
    if (!e) return undefined;
    const fields = [...e.fields].map(([k, f]) => `${k}:${f.version.join(':')}`).sort();
    return `${id}|${e.created?.join(':') ?? '-'}|${fields.join(',')}`;
  }
}
