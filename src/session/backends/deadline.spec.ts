import { describe, expect, it } from '@jest/globals';
import { TimeoutError } from 'redis';
import { isRedisOutage } from './redis-store.js';
import { Deadline } from './deadline.js';

const never = () => new Promise<never>(() => undefined);

describe('Deadline', () => {
  it('passes answers and errors through unchanged', async () => {
    const deadline = new Deadline(50);
    await expect(deadline.within(Promise.resolve('OK'))).resolves.toBe('OK');
    const refused = new Error('refused');
    await expect(deadline.within(Promise.reject(refused))).rejects.toBe(refused);
  });

  it('fails a command that does not answer, between ms and 1.25 × ms, as "session store down"', async () => {
    const deadline = new Deadline(80);
    const started = Date.now();

    const err = await deadline.within(never()).catch((e: unknown) => e);

    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(isRedisOutage(err)).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(79);
    expect(waited).toBeLessThan(80 * 1.25 + 50); // + scheduling slack
  });

  it('fails only the overdue ones, and keeps bounding commands after a quiet spell', async () => {
    const deadline = new Deadline(40);
    const stalled = deadline.within(never()).catch((e: unknown) => e);
    const quick = deadline.within(new Promise((r) => setTimeout(() => r('late but in time'), 10)));

    await expect(quick).resolves.toBe('late but in time');
    expect(await stalled).toBeInstanceOf(TimeoutError);
    // The timer stopped when nothing was pending; the next command arms it again.
    expect(await deadline.within(never()).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
  });
});
