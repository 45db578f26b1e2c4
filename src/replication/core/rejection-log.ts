/**
 * Logs refused frames at most once per peer and interval, with how many were refused meanwhile:
 * a peer port under attack must not turn into a disk-filling log (or a CPU-bound logger).
 */
export class RejectionLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: (message: string, detail: Record<string, unknown>) => void,
    private readonly intervalMs = 60_000,
    private readonly now: () => number,
  ) {}

  /** `peer` is who the frame came from as far as we can tell: a verified name or an address. */
  refused(peer: string, reason: string): void {
    const now = this.now();
    const entry = this.last.get(peer);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    if (this.last.size > 1000) this.last.clear(); // many addresses: forget, rather than grow
    this.last.set(peer, { at: now, suppressed: 0 });
    this.log('peer frame refused', {
      peer,
      reason,
      ...(entry?.suppressed ? { refusedSinceLastLog: entry.suppressed } : {}),
    });
  }
}
