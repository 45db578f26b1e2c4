import type { AttemptState } from './messages.js';
import { newer, type Version } from './version.js';

/**
 * Login-attempt counters that every replica adds to: per key, one slot per replica that only it
 * writes (so slots never conflict, the newer version of a slot wins), and a reset version that
 * voids every slot written before it (a successful login clears the key cluster-wide). The
 * count is the sum of the slots still in their window.
 */
export class AttemptSlots {
  private readonly keys = new Map<string, AttemptState>();

  constructor(private readonly self: string) {}

  count(key: string, now: number): number {
    const s = this.keys.get(key);
    if (!s) return 0;
    let total = 0;
    for (const slot of Object.values(s.slots)) if (this.counts(s, slot, now)) total += slot.count;
    return total;
  }

  /** Adds `delta` to this replica's slot; returns the state to send to the peers. */
  add(key: string, delta: 1 | -1, windowMs: number, now: number, version: Version): AttemptState {
    const s = this.stateOf(key);
    const own = s.slots[this.self];
    const fresh = !own || !this.counts(s, own, now);
    if (fresh && delta < 0) return s;
    s.slots[this.self] = fresh
      ? { count: 1, until: now + windowMs, version }
      : { count: Math.max(0, own.count + delta), until: own.until, version };
    if (this.keys.size > 10_000) this.prune(now);
    return s;
  }

  reset(key: string, version: Version): AttemptState {
    const s = this.stateOf(key);
    s.reset = version;
    return s;
  }

  merge(incoming: AttemptState): void {
    const s = this.stateOf(incoming.key);
    if (incoming.reset && newer(incoming.reset, s.reset)) s.reset = incoming.reset;
    for (const [replica, slot] of Object.entries(incoming.slots)) {
      if (newer(slot.version, s.slots[replica]?.version)) s.slots[replica] = slot;
    }
  }

  all(): AttemptState[] {
    return [...this.keys.values()];
  }

  private counts(s: AttemptState, slot: AttemptState['slots'][string], now: number): boolean {
    return slot.until > now && (!s.reset || newer(slot.version, s.reset));
  }

  private stateOf(key: string): AttemptState {
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { key, slots: {} }));
    return s;
  }

  private prune(now: number): void {
    for (const [key, s] of this.keys) {
      if (Object.values(s.slots).every((slot) => slot.until <= now)) this.keys.delete(key);
    }
  }
}
