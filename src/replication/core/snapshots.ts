import type { AttemptState, Item, Page } from './messages.js';

/** Serialized size a page stays under, well below the channel's frame limit. */
const PAGE_BYTES = 256 * 1024;
/** A transfer nobody asked the next page of for this long is abandoned. */
const ABANDONED_MS = 60_000;

interface Snapshot {
  items: Item[];
  attempts: AttemptState[];
  pages: Array<[start: number, end: number]>;
  at: number;
}

/**
 * The GET_ALL_SESSIONS side of a state transfer: the first request of a transfer takes a copy of
 * everything, and pages are cut from that copy — so a transfer sees one consistent state, and
 * what changes meanwhile reaches the receiver as live messages (which it queues until the last
 * page is in).
 */
export class Snapshots {
  private readonly open = new Map<string, Snapshot>();

  constructor(private readonly now: () => number) {}

  page(key: string, page: number, take: () => { items: Item[]; attempts: AttemptState[] }): Page {
    const now = this.now();
    for (const [k, s] of this.open) if (now - s.at > ABANDONED_MS) this.open.delete(k);
    let snapshot = this.open.get(key);
    if (!snapshot || page === 0) {
      const { items, attempts } = take();
      snapshot = { items, attempts, pages: cut(items), at: now };
      this.open.set(key, snapshot);
    }
    snapshot.at = now;
    const [start, end] = snapshot.pages[page] ?? [0, 0];
    const more = page + 1 < snapshot.pages.length;
    if (!more) this.open.delete(key);
    return {
      items: snapshot.items.slice(start, end),
      attempts: page === 0 ? snapshot.attempts.slice(0, 1000) : [],
      more,
    };
  }
}

/** Page boundaries: at most 1000 items and about PAGE_BYTES each. */
function cut(items: Item[]): Array<[number, number]> {
  const pages: Array<[number, number]> = [];
  let start = 0;
  let bytes = 0;
  items.forEach((item, i) => {
    const size =
      'fields' in item
        ? Object.values(item.fields).reduce((n, [json]) => n + json.length + 64, 64)
        : 96;
    if (i > start && (bytes + size > PAGE_BYTES || i - start >= 1000)) {
      pages.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  });
  pages.push([start, items.length]);
  return pages;
}
