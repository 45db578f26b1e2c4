import type { Envelope } from './envelope.js';

/** How far a frame's timestamp may be from our clock (replicas share a host or NTP). */
export const CLOCK_WINDOW_MS = 30_000;
/**
 * Sequence numbers below the highest seen that are still accepted once: a sender's frames reach
 * us over two connections (its requests on its own, its replies on ours), so they may interleave.
 */
export const SEQUENCE_WINDOW = 4096;

interface SenderState {
  epoch: number;
  highest: number;
  seen: Set<number>;
}

/**
 * Refuses replayed frames, as IPsec's anti-replay window does: per sender, its incarnation
 * (epoch) may only grow, and within one a sequence number is accepted once, and only if it is
 * not older than the window. The timestamp window covers what the per-sender state cannot: a
 * frame recorded before this replica restarted (and forgot every sender's state).
 */
export class ReplayGuard {
  private readonly senders = new Map<string, SenderState>();

  constructor(
    private readonly self: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the frame is fresh (and now remembered), else why it is refused. */
  check(e: Envelope): string | undefined {
    if (e.to !== this.self) return 'addressed to another replica';
    if (e.from === this.self) return 'claims to come from this replica';
    if (Math.abs(this.now() - e.ts) > CLOCK_WINDOW_MS) return 'timestamp outside the window';
    let s = this.senders.get(e.from);
    if (!s || e.epoch > s.epoch) {
      s = { epoch: e.epoch, highest: 0, seen: new Set() };
      this.senders.set(e.from, s);
    }
    if (e.epoch < s.epoch) return 'from an earlier incarnation of the sender';
    if (e.seq <= s.highest - SEQUENCE_WINDOW || s.seen.has(e.seq)) return 'replayed';
    s.seen.add(e.seq);
    if (e.seq > s.highest) {
      s.highest = e.seq;
      if (s.seen.size > 2 * SEQUENCE_WINDOW)
        for (const seq of s.seen) if (seq <= s.highest - SEQUENCE_WINDOW) s.seen.delete(seq);
    }
    return undefined;
  }
}
