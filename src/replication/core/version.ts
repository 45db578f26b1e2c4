/**
 * A version: a hybrid logical clock reading and the replica that made it. Totally ordered (the
 * replica name breaks ties), so "the later write wins" means the same on every replica, whatever
 * order messages arrive in. The clock follows wall time (so after a partition the write made
 * later in real time wins) but never goes back, and jumps past any version it has seen.
 */
export type Version = [counter: number, replica: string];

export function compareVersions(a: Version, b: Version): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

export const newer = (a: Version, b: Version | undefined): boolean =>
  !b || compareVersions(a, b) > 0;

/**
 * Microseconds of wall time (from `now`, ms: wall time with a fraction, see peer-backend.ts), then +1 per
 * event within one: room for a million writes a second.
 */
export class HybridClock {
  private last = 0;

  constructor(
    private readonly replica: string,
    private readonly now: () => number,
  ) {}

  tick(): Version {
    this.last = Math.max(Math.floor(this.now() * 1000), this.last + 1);
    return [this.last, this.replica];
  }

  /** A version seen from a peer: later local writes must be newer than it. */
  see(v: Version): void {
    if (v[0] > this.last) this.last = v[0];
  }
}
