/**
 * Latency histogram with log-linear buckets (the HdrHistogram idea, small): values are recorded
 * in whole microseconds; below 64 µs every value has its own bucket, above that each power of two
 * is split into 32 equal buckets, so a percentile is off by at most 1/32 (~3 %) of its value.
 * Memory stays fixed however many requests are recorded, and histograms merge by adding counts.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // buckets per power of two
const BUCKETS = 64 * SUB; // enough for any value below 2^62 µs

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function bucketOf(micros: number): number {
  const v = Math.max(0, Math.floor(micros));
  if (v < 2 * SUB) return v;
  const shift = Math.floor(Math.log2(v)) - SUB_BITS;
  return shift * SUB + Math.floor(v / 2 ** shift);
}

/** The middle of a bucket, in microseconds. */
export function bucketValue(index: number): number {
  if (index < 2 * SUB) return index;
  const shift = Math.floor(index / SUB) - 1;
  const lower = (index - shift * SUB) * 2 ** shift;
  return lower + (2 ** shift - 1) / 2;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private maxMicros = 0;

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    const micros = ms * 1000;
    this.counts[bucketOf(micros)]++;
    this.total++;
    this.sum += micros;
    if (micros > this.maxMicros) this.maxMicros = micros;
  }

  merge(other: Histogram): this {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.sum += other.sum;
    this.maxMicros = Math.max(this.maxMicros, other.maxMicros);
    return this;
  }

  /** The value below which `p` percent of the recordings fall, in milliseconds (0 when empty). */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      // A bucket's middle can lie above the largest value recorded in it: never report more than max.
      if (seen >= rank) return Math.min(bucketValue(i), this.maxMicros) / 1000;
    }
    return this.maxMicros / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      mean: this.total ? this.sum / this.total / 1000 : 0,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.maxMicros / 1000,
    };
  }
}
