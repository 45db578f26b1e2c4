import { TimeoutError } from 'redis';

interface Pending {
  at: number;
  reject: (err: Error) => void;
}

/** A store call past its deadline, for the stores whose driver has no timeout error of its own. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
}

/**
 * Bounds how long a Redis command may take, with one timer for all of them, so a stalled Redis
 * (up but not answering) gives a 503 instead of a hung request.
 *
 * node-redis can do this itself (the `timeout` command option), but it arms an
 * AbortSignal.timeout per command: about 9 µs each on our 2-core machine, some 4 % of an
 * authenticated read's CPU. Here a command costs a set entry; an interval fails the overdue ones
 * (so a command fails between `ms` and 1.25 × `ms`), and stops when nothing is pending.
 */
export class Deadline {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  /** `timedOut` makes the error a late call fails with (by default node-redis' TimeoutError). */
  constructor(
    private readonly ms: number,
    private readonly timedOut: (ms: number) => Error = (ms) =>
      new TimeoutError(`Redis did not answer within ${ms} ms`),
  ) {}

  within<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: Date.now() + this.ms, reject };
      this.pending.add(entry);
      this.timer ??= this.arm();
      command.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  private arm(): NodeJS.Timeout {
    const timer = setInterval(
      () => {
        this.sweep();
      },
      Math.max(5, this.ms / 4),
    );
    timer.unref();
    return timer;
  }

  private sweep(): void {
    const now = Date.now();
    // Insertion order is deadline order: every entry gets the same `ms`.
    for (const entry of this.pending) {
      if (entry.at > now) break;
      this.pending.delete(entry);
      entry.reject(this.timedOut(this.ms));
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
