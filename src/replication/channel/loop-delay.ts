import { LagHistogram } from '../core/lag-histogram.js';

/**
 * How late this process's event loop runs a timer: the wait any callback — a peer's frame
 * included — has before the loop gets to it. Kept as cumulative bucket counts like the lag, so
 * the benchmark can take two snapshots and subtract (perf_hooks.monitorEventLoopDelay measures
 * the same, but its histogram can only be reset, not subtracted).
 */
export class LoopDelay {
  readonly histogram = new LagHistogram();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 20) {}

  start(): void {
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.histogram.record(Math.max(0, now - expected));
      expected = now + this.intervalMs;
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
