import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { TimeoutError } from 'redis';
import { isRedisOutage } from './redis-store.js';
import { Deadline } from './deadline.js';

const never = () => new Promise<never>(() => undefined);

/** The outcome of a promise so far, without waiting for it. */
function watch<T>(promise: Promise<T>) {
  const seen: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(seen, { value, settled: true }),
    (error: unknown) => Object.assign(seen, { error, settled: true }),
  );
  return seen;
}

describe('Deadline', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('passes answers and errors through unchanged', async () => {
    const deadline = new Deadline(50);
    await expect(deadline.within(Promise.resolve('OK'))).resolves.toBe('OK');
    const refused = new Error('refused');
    await expect(deadline.within(Promise.reject(refused))).rejects.toBe(refused);
  });

  it('fails a command that does not answer, between ms and 1.25 × ms, as "session store down"', async () => {
    const deadline = new Deadline(80);
    const outcome = watch(deadline.within(never()));

    await jest.advanceTimersByTimeAsync(79);
    expect(outcome.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(80 * 0.25 + 1); // the sweep runs every ms / 4
    expect(outcome.error).toBeInstanceOf(TimeoutError);
    expect(isRedisOutage(outcome.error)).toBe(true);
  });

  it('fails only the overdue ones, and keeps bounding commands after a quiet spell', async () => {
    const deadline = new Deadline(40);
    const stalled = watch(deadline.within(never()));
    const quick = watch(
      deadline.within(
        new Promise((r) =>
          setTimeout(() => {
            r('late but in time');
          }, 10),
        ),
      ),
    );

    await jest.advanceTimersByTimeAsync(10);
    expect(quick).toMatchObject({ settled: true, value: 'late but in time' });
    expect(stalled.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(40);
    expect(stalled.error).toBeInstanceOf(TimeoutError);

    // The timer stopped when nothing was pending; the next command arms it again.
    expect(jest.getTimerCount()).toBe(0);
    const later = watch(deadline.within(never()));
    await jest.advanceTimersByTimeAsync(50);
    expect(later.error).toBeInstanceOf(TimeoutError);
  });
});
