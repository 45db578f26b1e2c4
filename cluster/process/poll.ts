// Bounded polling: every wait in the cluster layer goes through here, so every wait ends.

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Ends the loop early, e.g. when the process being probed has exited. */
  signal?: AbortSignal;
}

export type PollOutcome =
  { ok: true } | { ok: false; reason: 'timeout' | 'aborted'; lastError?: unknown };

/**
 * Calls `probe` until it resolves true, the deadline passes or `signal` aborts.
 * A probe that throws counts as "not yet" (its error is kept for the caller's message);
 * a probe that hangs is cut off at the deadline, so the loop always ends.
 */
export async function pollUntil(
  probe: () => Promise<boolean>,
  { timeoutMs, intervalMs = 100, signal }: PollOptions,
): Promise<PollOutcome> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (signal?.aborted) return { ok: false, reason: 'aborted', lastError };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { ok: false, reason: 'timeout', lastError };
    try {
      if (await withTimeout(probe(), remaining)) return { ok: true };
    } catch (error) {
      lastError = error;
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** Resolves with `promise`, or rejects once `ms` have passed. Never leaves a timer behind. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new TimeoutError(ms));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`'s value, or undefined once `ms` have passed. Never leaves a timer behind. */
export async function waitAtMost<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  try {
    return await withTimeout(promise, ms);
  } catch (error) {
    if (error instanceof TimeoutError) return undefined;
    throw error;
  }
}

export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * A system error's code (ENOENT, EEXIST, ...), or undefined for any other error. Not by
 * `instanceof Error`: Node's own errors come from another realm under Jest.
 */
export const errorCode = (error: unknown): unknown =>
  typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
