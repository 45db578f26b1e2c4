/**
 * Latency histogram: Node's own HdrHistogram (`perf_hooks.createHistogram`, the C library
 * HdrHistogram_c that wrk2 and most load tools use) behind the few calls the benchmark makes.
 * Values are recorded in whole microseconds at three significant figures, so a percentile is off
 * by at most 0.1 % of its value; memory stays fixed however many requests are recorded, and
 * histograms merge by adding counts. Chosen over a hand-written one (this file held one until
 * issue 31): the same structure, kept by the Node project, with nothing to install.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  /** Absent in results written before issue 31. */
  p999?: number;
  max: number;
}

export class Histogram {
  private readonly h: RecordableHistogram = createHistogram({ figures: 3 });

  get count(): number {
    return this.h.count;
  }

  /** Records `ms` (below 1 µs counts as 1 µs: the histogram's smallest value). */
  record(ms: number): void {
    this.h.record(Math.max(1, Math.round(ms * 1000)));
  }

  merge(other: Histogram): this {
    this.h.add(other.h);
    return this;
  }

  /** The value below which `p` percent of the recordings fall, in milliseconds (0 when empty). */
  percentile(p: number): number {
    if (this.h.count === 0) return 0;
    return Math.min(this.h.percentile(p), this.h.max) / 1000;
  }

  summary(): LatencySummary {
    const empty = this.h.count === 0;
    return {
      count: this.h.count,
      mean: empty ? 0 : this.h.mean / 1000,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: empty ? 0 : this.h.max / 1000,
    };
  }
}
