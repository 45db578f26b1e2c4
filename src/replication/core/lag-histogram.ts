/** Bucket width: 0.1 ms, up to 100 ms; anything later lands in the last bucket. */
export const LAG_BUCKET_MS = 0.1;
export const LAG_LIMIT_MS = 100;
const BUCKETS = Math.round(LAG_LIMIT_MS / LAG_BUCKET_MS) + 1;

/**
 * Replication lag as peers see it: from the version a write got on its replica (a wall-clock
 * reading, the replicas share a clock on one host) to the moment it was applied here. Kept as
 * cumulative bucket counts, so a reader takes two snapshots and subtracts (the benchmark does).
 */
export class LagHistogram {
  private readonly counts = new Array<number>(BUCKETS).fill(0);

  record(ms: number): void {
    const i = Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms / LAG_BUCKET_MS)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
  }

  /** Non-empty buckets: index -> count. */
  snapshot(): Record<number, number> {
    const out: Record<number, number> = {};
    this.counts.forEach((n, i) => n && (out[i] = n));
    return out;
  }
}

/** The `q` quantile (0-1) of the samples between two snapshots, in ms (upper bucket edge). */
export function lagQuantile(
  before: Record<number, number>,
  after: Record<number, number>,
  q: number,
): number {
  const delta = Object.entries(after)
    .map(([i, n]) => [Number(i), n - (before[Number(i)] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = delta.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [i, n] of delta) {
    seen += n;
    if (seen >= q * total) return (i + 1) * LAG_BUCKET_MS;
  }
  return NaN;
}
